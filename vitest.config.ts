import { defineConfig } from 'vitest/config';

/**
 * The integration tests that run against PostgreSQL as well (the `postgres` project: one
 * throwaway cluster, a new database per service or test). The others (the mock PG's and
 * the PG client's) touch no database. A test about SQLite itself is skipped on PostgreSQL
 * (`testDialect`) beside its PostgreSQL counterpart, where one exists.
 */
const onBothDatabases = [
  'test/integration/api-errors.test.ts',
  'test/integration/purchase.test.ts',
  'test/integration/refunds.test.ts',
  'test/integration/webhooks.test.ts',
  'test/integration/attention.test.ts',
  'test/integration/late-charges.test.ts',
  'test/integration/stock-race.test.ts',
  'test/integration/live.test.ts',
  'test/integration/settlement-api.test.ts',
  'test/integration/payment-events.test.ts',
  'test/integration/console-api.test.ts',
  'test/integration/http-hardening.test.ts',
  'test/integration/recovery.test.ts',
  'test/integration/logs.test.ts',
  'test/integration/openapi.test.ts',
  'test/integration/inspector.test.ts',
  'test/integration/scheduling.test.ts',
  'test/integration/payment-host.test.ts',
  'test/integration/payment-steps.test.ts',
  'test/integration/transition-effects.test.ts',
  'test/integration/row-shapes.test.ts',
  'test/integration/upgrade.test.ts',
  'test/integration/lease-fencing.test.ts',
  'test/integration/lease-fence.test.ts',
  'test/integration/payment-insert.test.ts',
  'test/integration/stock-reservation.test.ts',
  'test/integration/invariants.test.ts',
  'test/integration/settlement-runs.test.ts',
  'test/integration/settlement-check.test.ts',
  'test/integration/settlement-rules.test.ts',
  'test/integration/database-failures.test.ts',
  'test/integration/amqp.test.ts',
  'test/integration/webhook-relay.test.ts',
  'test/integration/migrations.test.ts',
  // Service processes killed with kill -9 and restarted, on one database.
  'test/e2e/crash-recovery.test.ts',
  'test/e2e/scale-out.test.ts',
];

/** PostgreSQL's own plumbing (schema parity, its group commit): the `postgres` project only. */
const postgresOnly = 'test/integration/postgres-*.test.ts';

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Integration tests each open their own database and servers on port 0.
    pool: 'forks',
    projects: [
      { extends: true, test: { name: 'sqlite', include: ['test/**/*.test.ts'], exclude: [postgresOnly] } },
      {
        extends: true,
        test: {
          name: 'postgres',
          include: [...onBothDatabases, postgresOnly],
          env: { TEST_DATABASE: 'postgres' },
          globalSetup: ['test/support/postgres-global-setup.ts'],
        },
      },
    ],
  },
});
