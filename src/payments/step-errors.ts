import Database from 'better-sqlite3';
import pg from 'pg';

/**
 * SQLite's answers that say "try again later": the database was busy or locked, or the
 * disk or memory failed for a moment. Anything else (a constraint, a bug) will fail the
 * same way next time.
 */
const TRANSIENT_SQLITE = /^SQLITE_(BUSY|LOCKED|IOERR|FULL|NOMEM|PROTOCOL|CANTOPEN|INTERRUPT)/;

/**
 * PostgreSQL's (SQLSTATE): the connection failed (08), a serialization failure or
 * deadlock (40001, 40P01), out of resources (53), a lock not available (55P03), the
 * server shutting down or starting (57P01–57P03), an I/O error (58).
 */
const TRANSIENT_POSTGRES = /^(08|40001|40P01|53|55P03|57P0[123]|58)/;

/** The connection to PostgreSQL broke before the server could answer. */
const TRANSIENT_SOCKET = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH']);
const CONNECTION_LOST = /^Connection terminated/;

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
  if (error instanceof Database.SqliteError) return TRANSIENT_SQLITE.test(error.code);
  if (error instanceof pg.DatabaseError) return TRANSIENT_POSTGRES.test(error.code ?? '');
  const { code } = (error ?? {}) as { code?: unknown };
  return (typeof code === 'string' && TRANSIENT_SOCKET.has(code)) || (error instanceof Error && CONNECTION_LOST.test(error.message));
}

export function toStepError(error: unknown): StepError {
  if (error instanceof StepError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new StepError(message, isTransient(error), { cause: error });
}
