// Errors users can act on: what happened, and what to do. Shells print `message` and
// `hint`, never a stack trace.

export class UserError extends Error {
  readonly hint: string;
  readonly code: string;
  constructor(message: string, hint: string, code = 'user-error') {
    super(message);
    this.name = 'UserError';
    this.hint = hint;
    this.code = code;
  }
}

export function isUserError(e: unknown): e is UserError {
  return e instanceof Error && e.name === 'UserError' && typeof (e as UserError).hint === 'string';
}

/** One line for a person: "what happened. what to do." */
export function describeError(e: unknown): string {
  if (isUserError(e)) return `${e.message} ${e.hint}`.trim();
  if (e instanceof Error) return e.message;
  return String(e);
}

/** The first line of an error's message, at most `max` characters: a reason a report shows. */
export function firstLine(e: unknown, max = 240): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.split('\n')[0]!.slice(0, max);
}
