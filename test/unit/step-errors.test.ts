import Database from 'better-sqlite3';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import type { Sqlite } from '../../db/connection.ts';
import { LeaseLost } from '../../db/lease-fence.ts';
import { isTransient, StepError, toStepError } from '../../src/payments/step-errors.ts';
import { useTempDatabase } from '../support/temp-database.ts';

const database = useTempDatabase('step-errors');
const connect = (busyTimeoutMs?: number): Sqlite => database.sqlite(busyTimeoutMs);

/** Runs `work` and returns what it threw; fails the test if it threw nothing. */
function thrownBy(work: () => unknown): unknown {
  try {
    work();
  } catch (error) {
    return error;
  }
  throw new Error('expected the work to throw');
}

/** A real SQLITE_BUSY: another connection holds the write lock past this one's busy timeout. */
function provokeBusy(): unknown {
  const waiting = connect(20);
  const holder = connect();
  holder.exec('begin immediate');
  return thrownBy(() => waiting.exec('begin immediate'));
}

/** A real SQLITE_CONSTRAINT_TRIGGER: a trigger refuses the insert with RAISE(ABORT, …). */
function provokeTriggerRefusal(): unknown {
  const sqlite = connect();
  sqlite.exec(`
    create table amounts (value integer not null);
    create trigger amounts_positive before insert on amounts when new.value <= 0
    begin select raise(abort, 'amount must be positive'); end;
  `);
  return thrownBy(() => sqlite.prepare('insert into amounts (value) values (?)').run(-1));
}

/** An error as node-postgres gives a server's refusal: SQLSTATE in `code`. */
function postgresError(code: string, message = 'refused'): pg.DatabaseError {
  const error = new pg.DatabaseError(message, message.length, 'error');
  error.code = code;
  return error;
}

describe('isTransient on PostgreSQL', () => {
  it.each([
    ['40001', 'serialization failure'],
    ['40P01', 'deadlock'],
    ['08006', 'connection failure'],
    ['53300', 'too many connections'],
    ['55P03', 'lock not available'],
    ['57P01', 'administrator shutdown'],
    ['57P03', 'cannot connect now'],
    ['58030', 'I/O error'],
  ])('is true for SQLSTATE %s (%s)', (code) => {
    expect(isTransient(postgresError(code))).toBe(true);
  });

  it.each([
    ['23505', 'unique violation'],
    ['42P01', 'undefined table'],
    ['22P02', 'invalid text representation'],
  ])('is false for SQLSTATE %s (%s)', (code) => {
    expect(isTransient(postgresError(code))).toBe(false);
  });

  it('is true when the connection broke before the server answered', () => {
    expect(isTransient(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }))).toBe(true);
    expect(isTransient(new Error('Connection terminated unexpectedly'))).toBe(true);
  });
});

describe('isTransient', () => {
  it('is true for a real SQLITE_BUSY', () => {
    const busy = provokeBusy();
    expect(busy).toBeInstanceOf(Database.SqliteError);
    expect(busy).toMatchObject({ code: 'SQLITE_BUSY' });
    expect(isTransient(busy)).toBe(true);
  });

  it('is true for a constructed SQLITE_BUSY', () => {
    expect(isTransient(new Database.SqliteError('database is locked', 'SQLITE_BUSY'))).toBe(true);
  });

  it('is true for an extended I/O error (SQLITE_IOERR_WRITE)', () => {
    expect(isTransient(new Database.SqliteError('disk I/O error', 'SQLITE_IOERR_WRITE'))).toBe(true);
  });

  it('is false for a trigger refusal (SQLITE_CONSTRAINT_TRIGGER)', () => {
    const refusal = provokeTriggerRefusal();
    expect(refusal).toMatchObject({ code: 'SQLITE_CONSTRAINT_TRIGGER', message: 'amount must be positive' });
    expect(isTransient(refusal)).toBe(false);
  });

  it('is true for a lost lease (marked retryable)', () => {
    expect(isTransient(new LeaseLost('lease of pay_1 is not held by a'))).toBe(true);
  });

  it('is false for a plain Error, even one whose message says busy', () => {
    expect(isTransient(new Error('SQLITE_BUSY: database is locked'))).toBe(false);
  });

  it('is false for values that are not errors', () => {
    expect(isTransient(undefined)).toBe(false);
    expect(isTransient(null)).toBe(false);
    expect(isTransient('SQLITE_BUSY')).toBe(false);
  });
});

describe('toStepError', () => {
  it('marks a real SQLITE_BUSY retryable and keeps its message and cause', () => {
    const busy = provokeBusy() as Error;
    const stepError = toStepError(busy);
    expect(stepError).toBeInstanceOf(StepError);
    expect(stepError).toMatchObject({ message: busy.message, retryable: true, cause: busy });
  });

  it('marks SQLITE_IOERR_WRITE retryable', () => {
    const ioError = new Database.SqliteError('disk I/O error', 'SQLITE_IOERR_WRITE');
    expect(toStepError(ioError)).toMatchObject({ message: 'disk I/O error', retryable: true, cause: ioError });
  });

  it('marks a trigger refusal not retryable and keeps its message', () => {
    const refusal = provokeTriggerRefusal();
    expect(toStepError(refusal)).toMatchObject({ message: 'amount must be positive', retryable: false, cause: refusal });
  });

  it('marks a lost lease retryable', () => {
    const lost = new LeaseLost('lease of pay_1 is not held by a');
    expect(toStepError(lost)).toMatchObject({ message: 'lease of pay_1 is not held by a', retryable: true, cause: lost });
  });

  it('marks a plain Error not retryable and keeps its message', () => {
    const plain = new Error('payment pay_1 vanished');
    expect(toStepError(plain)).toMatchObject({ message: 'payment pay_1 vanished', retryable: false, cause: plain });
  });

  it('passes a StepError through unchanged', () => {
    const final = new StepError('refused for good', false);
    const transient = new StepError('try again', true);
    expect(toStepError(final)).toBe(final);
    expect(toStepError(transient)).toBe(transient);
  });
});
