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
