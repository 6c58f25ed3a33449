import type Database from 'better-sqlite3';

export type Dialect = 'sqlite' | 'postgres';

/** Named parameters: `@name` in the statement, `{ name }` here. */
export type Params = Record<string, unknown>;

/**
 * Where repository functions run their statements: committed reads (`Database.read`), or
 * the open transaction of a group-commit job (its `tx`). One interface for both dialects:
 * statements are written once, with `@name` parameters, in SQL both databases accept.
 */
export interface Sql {
  readonly dialect: Dialect;
  all<T>(text: string, params?: Params): Promise<T[]>;
  get<T>(text: string, params?: Params): Promise<T | undefined>;
  /** Runs a statement that returns no rows; resolves with how many rows it changed. */
  run(text: string, params?: Params): Promise<number>;
}

/**
 * better-sqlite3 behind the Sql interface: each statement is compiled once per
 * connection (compiling on every call cost more CPU than running it) and runs at once;
 * the promise only carries its result.
 */
export function sqliteSql(connection: Database.Database): Sql {
  const statements = new Map<string, Database.Statement>();
  const statement = (text: string): Database.Statement => {
    let compiled = statements.get(text);
    if (compiled === undefined) {
      compiled = connection.prepare(text);
      statements.set(text, compiled);
    }
    return compiled;
  };
  return {
    dialect: 'sqlite',
    all: async <T>(text: string, params: Params = {}) => statement(text).all(params) as T[],
    get: async <T>(text: string, params: Params = {}) => statement(text).get(params) as T | undefined,
    run: async (text: string, params: Params = {}) => statement(text).run(params).changes,
  };
}

/**
 * `… in ${jsonList(q, 'ids')}`: the values of a JSON array bound as one parameter
 * (`{ ids: JSON.stringify(list) }`), however long the list, in either dialect.
 */
export function jsonList(q: Sql, param: string, type: 'text' | 'bigint' = 'text'): string {
  return q.dialect === 'sqlite'
    ? `(select value from json_each(@${param}))`
    : `(select (jsonb_array_elements_text(@${param}::jsonb))::${type})`;
}

/**
 * Appended to a `select` that picks rows for this process to take: on PostgreSQL it locks
 * them and passes over rows another process's transaction is taking right now, so that
 * concurrent takers split the work instead of queueing behind each other's row locks.
 * SQLite runs one write transaction at a time: nothing to skip.
 */
export function skipLocked(q: Sql): string {
  return q.dialect === 'postgres' ? 'for update skip locked' : '';
}

/**
 * The transaction a group-commit job runs in: statements now, and rows handed to a
 * `BatchWrite`, which writes the whole batch's rows of its kind together once every job
 * has run (PostgreSQL: one round trip for the batch instead of one per row).
 */
export interface Tx extends Sql {
  /**
   * Hands `row` to `write`, which writes it after the batch's last job, with the rows of
   * the same kind from the batch's other jobs. Nothing in the batch reads them before that,
   * this job included. A row the write refuses fails this job (rejects it, or rejects here
   * when the batch writes each job's rows in the job).
   */
  later<Row extends object>(write: BatchWrite<Row>, row: Row): Promise<void>;
  /**
   * Takes an advisory lock until the transaction ends (`transactionLock`): one statement
   * for the batch, however many of its jobs ask.
   */
  holdLock(key: number): Promise<void>;
}

/** Writes many jobs' rows of one kind, in as few statements as it can. */
export interface BatchWrite<Row extends object> {
  /** Writes `rows` in order; resolves with the rows it refused and why. */
  (q: Sql, rows: Row[]): Promise<Map<Row, Error>>;
}

type ColumnType = 'text' | 'bigint';

/** A row for `jsonRows` with these columns: text as a string, bigint as a number; the `Nullable` ones may be null. */
export type JsonRow<Columns extends Record<string, ColumnType>, Nullable extends keyof Columns = never> = {
  [K in keyof Columns]: (Columns[K] extends 'text' ? string : number) | (K extends Nullable ? null : never);
};

/** A batch write that inserts every row with one statement (`statement` reads them from `jsonRows(q, 'rows', …)`) and refuses none. */
export function insertEvery<Row extends object>(statement: (q: Sql) => string): BatchWrite<Row> {
  return async (q, rows) => {
    await q.run(statement(q), { rows: JSON.stringify(rows) });
    return new Map();
  };
}

/**
 * `from ${jsonRows(q, 'rows', { payment_id: 'text', at: 'bigint' })}`: the objects of a
 * JSON array bound as one parameter (`{ rows: JSON.stringify(list) }`), read as a table `r`
 * with those columns (the objects' keys) and `ord`, each object's place in the array.
 */
export function jsonRows(q: Sql, param: string, columns: Record<string, ColumnType>): string {
  const names = Object.keys(columns);
  return q.dialect === 'sqlite'
    ? `(select ${names.map((name) => `value ->> '$.${name}' as ${name}`).join(', ')}, key as ord from json_each(@${param})) as r`
    : `rows from (json_to_recordset(@${param}::json) as (${names.map((name) => `${name} ${columns[name]}`).join(', ')}))
      with ordinality as r(${names.join(', ')}, ord)`;
}
