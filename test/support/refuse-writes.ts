import type { Database } from '../../db/connection.ts';

export interface Refusal {
  table: string;
  event: 'INSERT' | 'UPDATE';
  /** What the database answers: the error's message. */
  message: string;
  /** Only rows for which this holds (an SQL condition on NEW, valid in both dialects). */
  when?: string;
}

/**
 * Makes the database refuse writes to a table for real, as a broken table or a full disk
 * would: a trigger, in SQLite's or PostgreSQL's form, created through the service's own
 * write path. Resolves with the function that removes it.
 */
export async function refuseWrites(db: Database, { table, event, message, when }: Refusal): Promise<() => Promise<void>> {
  const name = `refuse_${table}_${event.toLowerCase()}`;
  const statements =
    db.dialect === 'sqlite'
      ? [`CREATE TRIGGER ${name} BEFORE ${event} ON ${table} ${when ? `WHEN ${when}` : ''} BEGIN SELECT RAISE(ABORT, '${message}'); END`]
      : [
          `CREATE FUNCTION ${name}() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN IF ${when ?? 'true'} THEN RAISE EXCEPTION '${message}'; END IF; RETURN NEW; END $$`,
          `CREATE TRIGGER ${name} BEFORE ${event} ON ${table} FOR EACH ROW EXECUTE FUNCTION ${name}()`,
        ];
  await run(db, statements);
  return () => run(db, db.dialect === 'sqlite' ? [`DROP TRIGGER ${name}`] : [`DROP TRIGGER ${name} ON ${table}`, `DROP FUNCTION ${name}()`]);
}

function run(db: Database, statements: string[]): Promise<void> {
  return db.commit.run(async (tx) => {
    for (const statement of statements) await tx.run(statement);
  });
}
