/**
 * The actions of a token scope (`repository:NAME:pull,push`): distribution's pull and push, plus
 * Kura's delete and admin. One vocabulary for access rules, robot accounts and the config schema.
 */
export const ACTIONS = ['pull', 'push', 'delete', 'admin'] as const;
export type Action = (typeof ACTIONS)[number];

/** True for a member of ACTIONS. */
export function isAction(a: string): a is Action {
  return (ACTIONS as readonly string[]).includes(a);
}
