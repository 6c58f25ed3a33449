/** The databases the service runs on: a SQLite file (the default) or PostgreSQL (DATABASE_URL). */
export const DATABASES = ['sqlite', 'postgres'] as const;
export type DatabaseKind = (typeof DATABASES)[number];
