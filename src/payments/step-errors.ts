import Database from 'better-sqlite3';

/**
 * SQLite's answers that say "try again later": the database was busy or locked, or the
 * disk or memory failed for a moment. Anything else (a constraint, a bug) will fail the
 * same way next time.
 */
const TRANSIENT_SQLITE = /^SQLITE_(BUSY|LOCKED|IOERR|FULL|NOMEM|PROTOCOL|CANTOPEN|INTERRUPT)/;

/**
 * What a payment step throws: whether a retry can help travels with the error (as
 * Temporal marks non-retryable errors), and the machine's retry policy reads that flag,
 * never a message.
 */
export class StepError extends Error {
  override name = 'StepError';
  constructor(
    message: string,
    readonly retryable: boolean,
    options?: { cause: unknown },
  ) {
    super(message, options);
  }
}

export function isTransient(error: unknown): boolean {
  if ((error as { retryable?: unknown } | null)?.retryable === true) return true;
  return error instanceof Database.SqliteError && TRANSIENT_SQLITE.test(error.code);
}

export function toStepError(error: unknown): StepError {
  if (error instanceof StepError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new StepError(message, isTransient(error), { cause: error });
}
