import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { drizzle as sqliteDrizzle } from 'drizzle-orm/better-sqlite3';
import { migrate as sqliteMigrate } from 'drizzle-orm/better-sqlite3/migrator';
import { drizzle as pgDrizzle } from 'drizzle-orm/node-postgres';
import { migrate as pgMigrate } from 'drizzle-orm/node-postgres/migrator';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqliteConnection } from '../../db/connection.ts';
import { listPaymentEvents } from '../../db/events-repo.ts';
import { fanOut } from '../../db/webhooks-repo.ts';
import { useTempDatabase, type DatabaseLocation } from '../support/temp-database.ts';
import { testDialect } from '../support/test-database.ts';

// Migrations that move data, applied to a database as an older release left it.

const temp = useTempDatabase('migrations');
const folders: string[] = [];
afterEach(() => {
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
});

/** The shipped migrations of the location's dialect up to, not including, the one tagged `before`. */
function migrationsBefore(location: DatabaseLocation, before: string): string {
  const shipped = join(import.meta.dirname, '../../db', location.url === undefined ? 'migrations' : 'migrations-pg');
  const folder = mkdtempSync(join(tmpdir(), 'paystate-migrations-'));
  folders.push(folder);
  cpSync(shipped, folder, { recursive: true });
  const journalPath = join(folder, 'meta', '_journal.json');
  const journal = JSON.parse(readFileSync(journalPath, 'utf8')) as { entries: Array<{ tag: string }> };
  const end = journal.entries.findIndex((entry) => entry.tag.endsWith(before));
  expect(end, `a migration tagged …${before}`).toBeGreaterThan(0);
  writeFileSync(journalPath, JSON.stringify({ ...journal, entries: journal.entries.slice(0, end) }));
  return folder;
}

/** The database as the release before `before` left it. */
async function migrateBefore(before: string): Promise<void> {
  const location = await temp.location();
  const migrationsFolder = migrationsBefore(location, before);
  if (location.url === undefined) {
    const connection = openSqliteConnection(location.path, 'FULL');
    sqliteMigrate(sqliteDrizzle(connection), { migrationsFolder });
    connection.close();
    return;
  }
  const client = new pg.Client({ connectionString: location.url });
  await client.connect();
  await pgMigrate(pgDrizzle(client), { migrationsFolder });
  await client.end();
}

describe('migrations', () => {
  it('keeps the feed order of the events the fan-out had handed out, and hands out the rest', async () => {
    await migrateBefore('feed_positions');
    const old = await temp.session();
    for (const n of [1, 2, 3]) {
      await old.run(
        `insert into payment_events (id, payment_id, sequence, type, occurred_at, data) values (@id, 'pay_1', @n, 'payment.created', 1, '{}')`,
        { id: `evt_${n}`, n },
      );
    }
    // The release before kept a cursor: events 1 and 2 were handed out.
    await old.run(`insert into cursors (name, position) values ('webhook_fan_out', 2)`);

    const db = await temp.connect();
    const feed = async () => (await listPaymentEvents(db.read, { after: 0, limit: 10 })).map((e) => [e.id, e.feedPosition]);
    expect(await feed()).toEqual([
      ['evt_1', 1],
      ['evt_2', 2],
    ]);
    expect(await db.commit.run((tx) => fanOut(tx, 10, 5))).toBe(1);
    expect(await feed()).toEqual([
      ['evt_1', 1],
      ['evt_2', 2],
      ['evt_3', 3],
    ]);
  });

  // PostgreSQL's counterpart (an advisory lock) is in postgres-schema.test.ts.
  it.runIf(testDialect === 'sqlite')('migrates a new file once when several processes open it at the same moment', async () => {
    // Each process loads the code, then opens the file at the same agreed instant.
    const open = `const { openDatabase } = await import(${JSON.stringify(join(import.meta.dirname, '../../db/connection.ts'))});
      await new Promise((resolve) => setTimeout(resolve, Number(process.argv[2]) - Date.now()));
      await openDatabase(process.argv[1], 'FULL').close();`;
    const run = promisify(execFile);
    const at = String(Date.now() + 3_000);
    const opened = await Promise.allSettled(
      [1, 2, 3, 4].map(() => run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', open, temp.path, at])),
    );

    expect(opened.map((outcome) => outcome.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'fulfilled']);
    const db = await temp.connect();
    expect(await db.isReady()).toBe(true);
  });
});
