// The `notifications` section: webhook endpoints with registry:2's keys, so its configuration pastes in.
import { z } from 'zod';
import { bool, duration } from './values.js';

const endpointSchema = z
  .strictObject({
    name: z
      .string()
      .regex(/^[A-Za-z0-9._-]{1,64}$/, 'an endpoint name is 1 to 64 letters, digits, ".", "_" or "-"')
      .describe('Names the endpoint in logs, metrics and the outbox; keep it when the URL changes.'),
    disabled: bool.default(false).describe('Write no events for this endpoint.'),
    url: z
      .string()
      .regex(/^https?:\/\/\S+$/, 'an endpoint url is http:// or https://')
      .describe('Where events are POSTed.'),
    headers: z
      .record(z.string(), z.union([z.string(), z.array(z.string())]))
      .default({})
      .transform((h) => Object.fromEntries(Object.entries(h).map(([k, v]) => [k, [v].flat()])))
      .describe('Extra request headers, e.g. Authorization (a list sends the header once per value).'),
    format: z
      .enum(['distribution', 'cloudevents'])
      .default('distribution')
      .describe(
        'Payload format: distribution (registry:2 envelopes, the default) or cloudevents (one CloudEvents 1.0 JSON ' +
          'event per POST, structured mode; see docs/events.md).',
      ),
    secret: z
      .string()
      .min(16, 'an endpoint secret is at least 16 characters')
      .optional()
      .describe('HMAC-SHA256 key: sign every POST (X-Kura-Signature, X-Kura-Timestamp). Never logged.'),
    secretFile: z
      .string()
      .min(1)
      .optional()
      .describe('A file whose first line is the signing secret, read at start (instead of secret).'),
    timeout: duration.prefault('5s').describe('How long one delivery may take before it counts as failed.'),
    threshold: z
      .number()
      .int()
      .positive()
      .default(10)
      .describe('Failures in a row after which the endpoint rests for `backoff` before the next try.'),
    backoff: duration.prefault('10s').describe('How long a failing endpoint rests.'),
    ignoredmediatypes: z
      .array(z.string())
      .default([])
      .describe('Target media types not sent (registry:2 key; ignore.mediatypes is the same).'),
    ignore: z
      .strictObject({
        mediatypes: z.array(z.string()).default([]).describe('Target media types not sent.'),
        actions: z
          .array(z.enum(['push', 'pull', 'delete', 'mount']))
          .default([])
          .describe('Actions not sent (push, pull, delete, mount).'),
      })
      .prefault({}),
  })
  .refine(
    (e) => !(e.secret !== undefined && e.secretFile !== undefined),
    'give an endpoint secret or secretFile, not both',
  );

export const notificationsSchema = z
  .strictObject({
    endpoints: z
      .array(endpointSchema)
      .default([])
      .refine((eps) => new Set(eps.map((e) => e.name)).size === eps.length, 'notification endpoint names must differ')
      .describe(
        'Webhooks that get registry:2 notification envelopes for pushes, pulls, deletes and mounts, from a ' +
          'durable outbox (see docs/events.md; YAML only).',
      ),
    interval: duration
      .prefault('1s')
      .describe('How often each server looks for events to deliver (events due now go out at once in a row).'),
  })
  .prefault({});
