/** The CLI's typed exits: usage errors (exit 2, as commander's) apart from failures (exit 1) and bugs. No imports. */

/**
 * A command was called wrongly: a flag's value, a combination of flags, an argument of the wrong
 * kind. Exits 2, like commander's own usage errors (unknown option, missing argument).
 */
export class UsageError extends Error {
  readonly exitCode = 2;
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/**
 * Whether an error is a bug in Kura rather than a failure it explains: a JavaScript error raised
 * by the language itself (TypeError, ReferenceError, …, without a Node.js error code) or a failed
 * assertion. Failures Kura expects carry their own message and are plain errors or typed ones.
 */
export function isUnexpected(e: unknown): boolean {
  if (!(e instanceof Error)) return true;
  if ((e as NodeJS.ErrnoException).code === 'ERR_ASSERTION') return true;
  if ((e as NodeJS.ErrnoException).code !== undefined) return false;
  return [TypeError, ReferenceError, RangeError, SyntaxError, EvalError].some((t) => e instanceof t);
}

/**
 * What the boundary prints for an error (`message` already says the fix) and the exit code: the
 * one `kura: error: …` line; for a bug, a hint to run with --debug, or with `debug` its stack and
 * a request to report it; with `debug`, the stack of any other error too.
 */
export function failureReport(e: unknown, message: string, debug: boolean): { text: string; exitCode: number } {
  const bug = isUnexpected(e);
  const stack = e instanceof Error && e.stack ? e.stack : String(e);
  const hint = bug && !debug ? ' (a bug in kura: run again with --debug and report the stack)' : '';
  let text = `kura: error: ${message.split('\n')[0]}${hint}\n`;
  if (debug) text += `${stack}\n${bug ? 'This is a bug in kura: please report it with the stack above.\n' : ''}`;
  return { text, exitCode: e instanceof UsageError ? e.exitCode : 1 };
}
