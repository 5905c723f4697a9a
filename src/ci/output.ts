/** The forms `kura ci tags` prints: lines, the action's JSON, and GitHub step outputs ($GITHUB_OUTPUT). */
import { randomUUID } from 'node:crypto';
import type { Meta } from './meta.js';

/** The action's `json` output: tags, labels (an object) and annotations. */
export function metaJson(m: Meta): { tags: string[]; labels: Record<string, string>; annotations: string[] } {
  return { tags: m.tags, labels: m.labels, annotations: m.annotations };
}

/** The outputs as name → value, as the action sets them (lists joined by newlines). */
export function outputs(m: Meta): Record<string, string> {
  return {
    version: m.version,
    tags: m.tags.join('\n'),
    labels: Object.entries(m.labels)
      .map(([k, v]) => `${k}=${v}`)
      .join('\n'),
    annotations: m.annotations.join('\n'),
    json: JSON.stringify(metaJson(m)),
  };
}

/**
 * The text to append to $GITHUB_OUTPUT: each output in the runner's multiline form `NAME<<DELIM`, value,
 * `DELIM`, with a delimiter that cannot occur in the value.
 */
export function githubOutput(m: Meta, delimiter = `ghadelimiter_${randomUUID()}`): string {
  let out = '';
  for (const [name, value] of Object.entries(outputs(m))) {
    if (value.includes(delimiter)) throw new Error(`the output ${name} holds the delimiter ${delimiter}`);
    out += `${name}<<${delimiter}\n${value}\n${delimiter}\n`;
  }
  return out;
}
