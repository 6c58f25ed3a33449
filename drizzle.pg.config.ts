import { defineConfig } from 'drizzle-kit';

/** PostgreSQL (DATABASE_URL): tables derived from the SQLite schema, see db/schema-pg.ts. */
export default defineConfig({
  dialect: 'postgresql',
  schema: './db/schema-pg.ts',
  out: './db/migrations-pg',
});
