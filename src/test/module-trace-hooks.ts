/** The resolve hook of module-trace.ts (on Node's hooks thread): appends each resolved URL to $KURA_MODULE_TRACE. */
import { appendFileSync } from 'node:fs';

type Resolved = { url: string };
type NextResolve = (specifier: string, context: unknown) => Promise<Resolved>;

export async function resolve(specifier: string, context: unknown, next: NextResolve): Promise<Resolved> {
  const r = await next(specifier, context);
  const out = process.env.KURA_MODULE_TRACE;
  if (out) appendFileSync(out, r.url + '\n');
  return r;
}
