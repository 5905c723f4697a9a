/**
 * A module loaded on its first use instead of at import: `import 'ocikura'` stays cheap while the
 * code that needs zlib, tar or HTTPS pays for it when it runs. For CommonJS packages and `node:`
 * built-ins, through a createRequire made in the using file (so the import-rule test sees them).
 */
export function lazy<T>(load: () => T): () => T {
  let module: T | undefined;
  return () => (module ??= load());
}
