import { beforeEach, describe, expect, it } from 'vitest';
import type { Sqlite } from '../../db/connection.ts';
import { createGroupCommit, sqliteWriter, type GroupCommit } from '../../db/group-commit.ts';
import { jsonRows, type BatchWrite, type Sql } from '../../db/sql.ts';
import { useTempDatabase } from '../support/temp-database.ts';

// A real SQLite file per test: the group commit's promises must agree with what another
// connection sees committed on disk.

const database = useTempDatabase('group-commit');
/** A connection to this test's file; closed after the test. */
const connect = (busyTimeoutMs?: number): Sqlite => database.sqlite(busyTimeoutMs);

beforeEach(() => {
  connect().exec('create table entries (name text primary key)');
});

/** A group commit writing through its own connection, counting the size of every committed batch. */
function groupCommit(busyTimeoutMs?: number): { sqlite: Sqlite; commit: GroupCommit; batches: number[] } {
  const sqlite = connect(busyTimeoutMs);
  const batches: number[] = [];
  return { sqlite, commit: createGroupCommit(sqliteWriter(sqlite), (size) => batches.push(size)), batches };
}

const insertEntry = (name: string) => async (tx: Sql) => {
  await tx.run('insert into entries (name) values (@name)', { name });
  return name;
};

/** What another connection sees committed. */
const committedEntries = (reader: Sqlite) =>
  (reader.prepare('select name from entries order by name').pluck().all() as string[]);

describe('createGroupCommit', () => {
  it('commits the jobs queued in one tick in one transaction and resolves each with its own value', async () => {
    const { commit, batches } = groupCommit();
    const reader = connect();

    const values = await Promise.all([
      commit.run(insertEntry('a')),
      commit.run(insertEntry('b')),
      commit.run(() => 42),
    ]);

    expect(values).toEqual(['a', 'b', 42]);
    expect(batches).toEqual([3]);
    expect(committedEntries(reader)).toEqual(['a', 'b']);
  });

  it('commits jobs queued in a later tick in a batch of their own', async () => {
    const { commit, batches } = groupCommit();

    await Promise.all([commit.run(insertEntry('a')), commit.run(insertEntry('b'))]);
    await commit.run(insertEntry('c'));

    expect(batches).toEqual([2, 1]);
  });

  it('rolls back and rejects only the job that throws; the rest of its batch commits', async () => {
    const { commit, batches } = groupCommit();
    const reader = connect();
    const refusal = new Error('refused after writing');

    const outcomes = await Promise.allSettled([
      commit.run(insertEntry('a')),
      commit.run(async (tx) => {
        await insertEntry('b')(tx);
        throw refusal;
      }),
      commit.run(insertEntry('c')),
    ]);

    expect(outcomes).toEqual([
      { status: 'fulfilled', value: 'a' },
      { status: 'rejected', reason: refusal },
      { status: 'fulfilled', value: 'c' },
    ]);
    expect(batches).toEqual([3]);
    expect(committedEntries(reader)).toEqual(['a', 'c']);
  });

  it('takes no savepoint in a batch in which no job throws', async () => {
    const sqlite = connect();
    const writer = sqliteWriter(sqlite);
    const savepoints: string[] = [];
    const counted = { ...writer, savepoint: () => (savepoints.push('savepoint'), writer.savepoint()) };
    const commit = createGroupCommit(counted);

    await Promise.all([commit.run(insertEntry('a')), commit.run(insertEntry('b'))]);

    expect(savepoints).toEqual([]);
    expect(committedEntries(connect())).toEqual(['a', 'b']);
  });

  describe('when jobs throw', () => {
    /** A group commit whose writer counts its savepoints, and jobs that record each run. */
    function counting() {
      const writer = sqliteWriter(connect());
      const savepoints: string[] = [];
      const commit = createGroupCommit({ ...writer, savepoint: () => (savepoints.push('savepoint'), writer.savepoint()) });
      const runs: string[] = [];
      const job = (name: string, work: (tx: Sql) => Promise<unknown>) =>
        commit.run((tx) => {
          runs.push(name);
          return work(tx);
        });
      const refusing = (name: string) =>
        job(name, async (tx) => {
          await insertEntry(name)(tx);
          throw new Error(`${name} refused`);
        });
      return { savepoints, runs, job, refusing };
    }

    it('runs the batch again without the job that threw, which runs once and rejects alone', async () => {
      const { savepoints, runs, job, refusing } = counting();

      const outcomes = await Promise.allSettled([job('a', insertEntry('a')), refusing('b'), job('c', insertEntry('c'))]);

      expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
      expect(runs).toEqual(['a', 'b', 'a', 'c']);
      expect(savepoints).toEqual([]);
      expect(committedEntries(connect())).toEqual(['a', 'c']);
    });

    it('runs the rest in a savepoint each once a second job threw: three passes at most', async () => {
      const { savepoints, runs, job, refusing } = counting();

      const outcomes = await Promise.allSettled([job('a', insertEntry('a')), refusing('b'), refusing('c'), refusing('d'), job('e', insertEntry('e'))]);

      expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'rejected', 'rejected', 'fulfilled']);
      expect(runs).toEqual(['a', 'b', 'a', 'c', 'a', 'd', 'e']);
      expect(savepoints).toHaveLength(3);
      expect(committedEntries(connect())).toEqual(['a', 'e']);
    });

    it('runs a lone job that throws once', async () => {
      const { runs, refusing } = counting();

      await expect(refusing('a')).rejects.toThrow('a refused');

      expect(runs).toEqual(['a']);
      expect(committedEntries(connect())).toEqual([]);
    });
  });

  it('rolls back a job that fails on a constraint and commits its neighbours', async () => {
    const { commit } = groupCommit();
    const reader = connect();

    const outcomes = await Promise.allSettled([
      commit.run(insertEntry('a')),
      commit.run(insertEntry('a')),
      commit.run(insertEntry('b')),
    ]);

    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((outcomes[1] as PromiseRejectedResult).reason).toMatchObject({ code: 'SQLITE_CONSTRAINT_PRIMARYKEY' });
    expect(committedEntries(reader)).toEqual(['a', 'b']);
  });

  describe('when another connection holds the write lock longer than the busy timeout', () => {
    it('rejects every job of the batch with SQLITE_BUSY and writes nothing', async () => {
      const { commit, batches } = groupCommit(50);
      const blocker = connect();
      blocker.exec('begin immediate');

      // Both settle: no rejection is left unhandled.
      const outcomes = await Promise.allSettled([commit.run(insertEntry('a')), commit.run(insertEntry('b'))]);

      expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected']);
      for (const outcome of outcomes) {
        expect((outcome as PromiseRejectedResult).reason).toMatchObject({ code: 'SQLITE_BUSY' });
      }
      expect(batches).toEqual([]);
      blocker.exec('rollback');
      expect(committedEntries(blocker)).toEqual([]);
    });

    it('commits a new batch once the lock is released', async () => {
      const { commit, batches } = groupCommit(50);
      const blocker = connect();
      blocker.exec('begin immediate');
      const failed = await Promise.allSettled([commit.run(insertEntry('a'))]);
      expect(failed[0]?.status).toBe('rejected');

      blocker.exec('commit');

      await expect(commit.run(insertEntry('b'))).resolves.toBe('b');
      expect(batches).toEqual([1]);
      expect(committedEntries(blocker)).toEqual(['b']);
    });
  });

  /**
   * Some errors make SQLite roll back the whole transaction, not just the statement
   * (SQLITE_FULL, some SQLITE_IOERR, RAISE(ROLLBACK)). A job's promise must still tell
   * the truth: a job that rejected wrote nothing, a job that resolved is committed.
   */
  it('rejects every job of a batch that SQLite rolled back whole (disk full), running none outside it', async () => {
    const { sqlite, commit } = groupCommit();
    const reader = connect();
    sqlite.exec('create table blobs (data blob)');
    // The file may grow by two pages at most: a 100 kB blob is SQLITE_FULL, a short name fits.
    const pages = sqlite.pragma('page_count', { simple: true }) as number;
    sqlite.pragma(`max_page_count = ${pages + 2}`);

    const outcomes = await Promise.allSettled([
      commit.run(insertEntry('a')),
      commit.run((tx) => tx.run('insert into blobs (data) values (zeroblob(100000))')),
      commit.run(insertEntry('c')),
    ]);

    const committed = committedEntries(reader);
    expect({ a: outcomes[0]?.status, c: outcomes[2]?.status }).toEqual({
      a: committed.includes('a') ? 'fulfilled' : 'rejected',
      c: committed.includes('c') ? 'fulfilled' : 'rejected',
    });
    // SQLite rolled the whole batch back, and no job ran after it outside a transaction.
    expect(committed).toEqual([]);
    // The cause reaches every job: a full disk may pass (transient), "cannot commit" reads as a bug.
    for (const outcome of outcomes) expect((outcome as PromiseRejectedResult).reason).toMatchObject({ code: 'SQLITE_FULL' });
  });

  it('lets a job await, and shows another connection nothing of the batch before it commits', async () => {
    const { commit } = groupCommit();
    const reader = connect();
    let seenMidBatch: string[] | undefined;

    await Promise.all([
      commit.run(insertEntry('a')),
      commit.run(async (tx) => {
        await insertEntry('b')(tx);
        // Other code runs while the job awaits: it reads on another connection.
        await new Promise<void>((resolve) => queueMicrotask(resolve));
        seenMidBatch = committedEntries(reader);
        return tx.get<{ n: number }>('select count(*) as n from entries');
      }),
    ]);

    expect(seenMidBatch).toEqual([]);
    expect(committedEntries(reader)).toEqual(['a', 'b']);
  });

  it('commits jobs queued while a batch commits as the next batch', async () => {
    const { commit, batches } = groupCommit();
    let later: Promise<string> | undefined;

    await commit.run(async (tx) => {
      later = commit.run(insertEntry('b'));
      return insertEntry('a')(tx);
    });

    await expect(later).resolves.toBe('b');
    expect(batches).toEqual([1, 1]);
  });

  describe('batch writes', () => {
    interface Entry {
      name: string;
    }

    /** Writes a batch's entries in one statement and records each call; refuses names that start with "refused". */
    function entryWrite() {
      const calls: string[][] = [];
      const write: BatchWrite<Entry> = async (q, rows) => {
        calls.push(rows.map((row) => row.name));
        const taken = rows.filter((row) => !row.name.startsWith('refused'));
        await q.run(`insert into entries (name) select r.name from ${jsonRows(q, 'rows', { name: 'text' })} order by r.ord`, {
          rows: JSON.stringify(taken),
        });
        return new Map(rows.filter((row) => !taken.includes(row)).map((row) => [row, new Error(`${row.name} refused`)]));
      };
      return { calls, write };
    }

    it('writes every job’s rows in one call after the batch’s last job, in the order they came', async () => {
      const { commit, batches } = groupCommit();
      const { calls, write } = entryWrite();
      const seenByLastJob: string[][] = [];

      const values = await Promise.all([
        commit.run(async (tx) => {
          await tx.later(write, { name: 'b' });
          await tx.later(write, { name: 'a' });
          return 1;
        }),
        commit.run(insertEntry('c')),
        commit.run(async (tx) => {
          await tx.later(write, { name: 'd' });
          seenByLastJob.push((await tx.all<{ name: string }>('select name from entries order by name')).map((row) => row.name));
          return 3;
        }),
      ]);

      expect(values).toEqual([1, 'c', 3]);
      expect(calls).toEqual([['b', 'a', 'd']]);
      expect(seenByLastJob).toEqual([['c']]);
      expect(batches).toEqual([3]);
      expect(committedEntries(connect())).toEqual(['a', 'b', 'c', 'd']);
    });

    it('rejects the job whose row the write refused, with the refusal, and commits the rest without it', async () => {
      const { commit } = groupCommit();
      const { calls, write } = entryWrite();

      const outcomes = await Promise.allSettled([
        commit.run(async (tx) => tx.later(write, { name: 'a' })),
        commit.run(async (tx) => {
          await insertEntry('written-beside-the-refused-row')(tx);
          await tx.later(write, { name: 'refused-b' });
        }),
        commit.run(async (tx) => tx.later(write, { name: 'c' })),
      ]);

      expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
      expect((outcomes[1] as PromiseRejectedResult).reason).toEqual(new Error('refused-b refused'));
      expect(calls).toEqual([
        ['a', 'refused-b', 'c'],
        ['a', 'c'],
      ]);
      expect(committedEntries(connect())).toEqual(['a', 'c']);
    });

    it('writes nothing of a job that threw after handing rows over', async () => {
      const { commit } = groupCommit();
      const { calls, write } = entryWrite();

      const outcomes = await Promise.allSettled([
        commit.run(async (tx) => {
          await tx.later(write, { name: 'a' });
          throw new Error('a failed');
        }),
        commit.run(async (tx) => tx.later(write, { name: 'b' })),
      ]);

      expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'fulfilled']);
      expect(calls).toEqual([['b']]);
      expect(committedEntries(connect())).toEqual(['b']);
    });

    it('runs the batch again with each job writing its own rows when the write fails as a whole: the job at fault rejects', async () => {
      const { commit } = groupCommit();
      const { calls, write } = entryWrite();

      const outcomes = await Promise.allSettled([
        commit.run(async (tx) => tx.later(write, { name: 'a' })),
        commit.run(async (tx) => tx.later(write, { name: 'a' })), // the primary key fails the whole statement
        commit.run(async (tx) => tx.later(write, { name: 'b' })),
      ]);

      expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
      expect((outcomes[1] as PromiseRejectedResult).reason).toMatchObject({ code: 'SQLITE_CONSTRAINT_PRIMARYKEY' });
      expect(calls).toEqual([['a', 'a', 'b'], ['a'], ['a'], ['a'], ['b']]);
      expect(committedEntries(connect())).toEqual(['a', 'b']);
    });

    it('rolls back the rows of a job isolated in a savepoint that throws after writing them', async () => {
      const { commit } = groupCommit();
      const { calls, write } = entryWrite();
      const failing = (name: string) =>
        commit.run(async (tx) => {
          await tx.later(write, { name });
          throw new Error(`${name} failed`);
        });

      const outcomes = await Promise.allSettled([failing('a'), failing('b'), failing('c'), commit.run(async (tx) => tx.later(write, { name: 'd' }))]);

      expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected', 'rejected', 'fulfilled']);
      // Third pass: each job in a savepoint, writing its rows itself.
      expect(calls).toEqual([['c'], ['d']]);
      expect(committedEntries(connect())).toEqual(['d']);
    });
  });

  describe('flush', () => {
    it('resolves after every job queued before it has settled and is committed', async () => {
      const { commit } = groupCommit();
      const reader = connect();
      const settled: string[] = [];
      const track = (name: string, job: Promise<unknown>) =>
        job.then(
          () => settled.push(`${name} resolved`),
          () => settled.push(`${name} rejected`),
        );
      track('a', commit.run(insertEntry('a')));
      track(
        'b',
        commit.run(() => {
          throw new Error('refused');
        }),
      );
      track('c', commit.run(insertEntry('c')));

      await commit.flush();

      expect(settled).toEqual(['a resolved', 'b rejected', 'c resolved']);
      expect(committedEntries(reader)).toEqual(['a', 'c']);
    });

    it('waits for jobs queued in an earlier tick that are not committed yet', async () => {
      const { commit, batches } = groupCommit();
      const reader = connect();
      void commit.run(insertEntry('a'));
      await Promise.resolve(); // a later microtask of the same tick: the batch has not run

      expect(committedEntries(reader)).toEqual([]);
      await commit.flush();

      expect(committedEntries(reader)).toEqual(['a']);
      expect(batches).toEqual([2]);
    });
  });
});
