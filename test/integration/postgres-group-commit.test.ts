import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Database } from '../../db/connection.ts';
import { createGroupCommit } from '../../db/group-commit.ts';
import { openPostgres, postgresWriter } from '../../db/postgres.ts';
import { jsonRows, type BatchWrite, type Sql } from '../../db/sql.ts';
import { newPostgresDatabase } from '../support/test-database.ts';

// The group commit on PostgreSQL: the same promises as on SQLite (db/group-commit.ts),
// against a real server. Each test has its own database.

let db: Database & { pool: import('pg').Pool };

beforeEach(async () => {
  db = await openPostgres(await newPostgresDatabase(), { poolSize: 4 });
  await db.pool.query('create table entries (name text primary key)');
});
afterEach(() => db.close());

const insertEntry = (name: string) => async (tx: Sql) => {
  await tx.run('insert into entries (name) values (@name)', { name });
  return name;
};

const committedEntries = async () => (await db.read.all<{ name: string }>('select name from entries order by name')).map((r) => r.name);

describe('the group commit on PostgreSQL', () => {
  it('commits the jobs of one tick together, resolving each with its own value', async () => {
    const values = await Promise.all([db.commit.run(insertEntry('a')), db.commit.run(insertEntry('b')), db.commit.run(() => 42)]);

    expect(values).toEqual(['a', 'b', 42]);
    expect(await committedEntries()).toEqual(['a', 'b']);
  });

  it('rolls back only the job that fails (a duplicate key) and commits its neighbours', async () => {
    const outcomes = await Promise.allSettled([
      db.commit.run(insertEntry('a')),
      db.commit.run(insertEntry('a')),
      db.commit.run(insertEntry('b')),
    ]);

    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((outcomes[1] as PromiseRejectedResult).reason).toMatchObject({ code: '23505' });
    expect(await committedEntries()).toEqual(['a', 'b']);
  });

  it('writes the batch’s rows in one statement, and finds the job at fault when that statement fails as a whole', async () => {
    const calls: string[][] = [];
    const write: BatchWrite<{ name: string }> = async (q, rows) => {
      calls.push(rows.map((row) => row.name));
      await q.run(`insert into entries (name) select r.name from ${jsonRows(q, 'rows', { name: 'text' })} order by r.ord`, {
        rows: JSON.stringify(rows),
      });
      return new Map();
    };
    const hand = (name: string) => db.commit.run((tx) => tx.later(write, { name }));

    const outcomes = await Promise.allSettled([hand('a'), hand('b'), hand('a'), hand('c')]);

    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    expect((outcomes[2] as PromiseRejectedResult).reason).toMatchObject({ code: '23505' });
    // One statement for the batch; it failed, so each job wrote its own row until the third failed.
    expect(calls).toEqual([['a', 'b', 'a', 'c'], ['a'], ['b'], ['a'], ['a'], ['b'], ['c']]);
    expect(await committedEntries()).toEqual(['a', 'b', 'c']);
  });

  it('takes an advisory lock once in a batch however many of its jobs ask, and again in the next batch', async () => {
    const writer = postgresWriter(db.pool);
    const locks: string[] = [];
    const get: Sql['get'] = (text, params) => {
      if (text.includes('pg_advisory_xact_lock')) locks.push(text);
      return writer.sql.get(text, params);
    };
    const commit = createGroupCommit({ ...writer, sql: { ...writer.sql, get } });
    const held = async () => (await db.read.all("select 1 from pg_locks where locktype = 'advisory' and objid = 42")).length;

    const heldInBatch = await Promise.all([commit.run((tx) => tx.holdLock(42).then(held)), commit.run((tx) => tx.holdLock(42))]);
    await commit.run((tx) => tx.holdLock(42));
    writer.close();

    expect(locks).toHaveLength(2);
    expect(heldInBatch[0]).toBe(1);
    expect(await held()).toBe(0);
  });

  it('keeps its connection from batch to batch: a batch does not queue behind reads asking for every connection of the pool', async () => {
    await db.commit.run(insertEntry('a'));
    // Reads ask for every connection of the pool (four), and hold them for a while.
    const finished: string[] = [];
    const reads = Array.from({ length: 4 }, () => db.pool.query('select pg_sleep(1)').then(() => finished.push('read')));

    await db.commit.run(insertEntry('b')).then(() => finished.push('batch'));
    await Promise.all(reads);

    expect(finished[0]).toBe('batch');
    expect(await committedEntries()).toEqual(['a', 'b']);
  });

  it('shows reads nothing of a batch before it commits', async () => {
    let seenMidBatch: string[] | undefined;

    await db.commit.run(async (tx) => {
      await insertEntry('a')(tx);
      seenMidBatch = await committedEntries();
    });

    expect(seenMidBatch).toEqual([]);
    expect(await committedEntries()).toEqual(['a']);
  });

  it('rejects the job whose connection died, runs its neighbours again on another, and commits the next batch', async () => {
    const outcomes = await Promise.allSettled([
      db.commit.run(insertEntry('a')),
      db.commit.run(async (tx) => {
        await tx.get('select pg_terminate_backend(pg_backend_pid())');
      }),
    ]);

    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected']);
    expect((outcomes[1] as PromiseRejectedResult).reason).toMatchObject({ code: '57P01' });
    expect(await committedEntries()).toEqual(['a']);
    await expect(db.commit.run(insertEntry('b'))).resolves.toBe('b');
    expect(await committedEntries()).toEqual(['a', 'b']);
  });

  it('binds @name parameters by name, leaving string literals alone', async () => {
    const row = await db.read.get<{ a: number; b: string; again: number }>("select cast(@x as bigint) as a, '@x' as b, cast(@x as bigint) + 1 as again", {
      x: 41,
    });

    expect(row).toEqual({ a: 41, b: '@x', again: 42 });
  });
});
