// Errors that the CLI turns into one clear sentence on stderr and an exit code.

/** Bad input or usage: exit 2. The message names the file, field and what is expected. */
export class InputError extends Error {
  override readonly name = 'InputError';
  constructor(message: string) {
    super(message);
  }
}

/** Anything else we understand (a server refused, a file could not be written): exit 1. */
export class RuntimeFailure extends Error {
  override readonly name = 'RuntimeFailure';
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
