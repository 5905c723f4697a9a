/** JSON documents that media keep beside images (index.json, manifest.json), parsed with one error shape. */

/** The parsed document, or the error `invalid` makes of the parser's reason. */
export function parseJson(bytes: Buffer | string, invalid: (why: string) => Error): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch (e) {
    throw invalid((e as Error).message);
  }
}
