import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { countByStatus } from '../db/payments-repo.ts';
import type { Sql } from '../db/sql.ts';
import { PUBLIC_STATUSES } from '../machines/payment-status.ts';
import type { OpsStore } from './ops-store.ts';
import type { SlotOutcome } from './pg/call-slots.ts';
import type { PgOperation } from './pg/pg-client.ts';

export interface Metrics {
  registry: Registry;
  recordPgCall(operation: PgOperation, outcome: string, seconds: number): void;
  recordPgQueueWait(operation: PgOperation, outcome: SlotOutcome, seconds: number): void;
}

/**
 * One registry per service instance, so tests can run several side by side.
 * `read`: committed reads (`Database.read`). `pgQueued`: how many PG calls wait for a connection right now.
 */
export function createMetrics(read: Sql, ops: OpsStore, pgQueued: () => number): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });

  new Gauge({
    name: 'paystate_payments',
    help: 'Payments by public status (from the database)',
    labelNames: ['status'],
    registers: [registry],
    async collect() {
      const counts = new Map((await countByStatus(read)).map((r) => [r.status, r.count]));
      for (const status of PUBLIC_STATUSES) this.set({ status }, counts.get(status) ?? 0);
    },
  });
  new Gauge({
    name: 'paystate_actors_in_memory',
    help: 'Payment actors live in this process',
    registers: [registry],
    collect() {
      this.set(ops.getSnapshot().context.actorsInMemory);
    },
  });
  new Gauge({
    name: 'paystate_snapshot_write_failures',
    help: 'Snapshot writes refused since start (lost lease, I/O error); each evicted its actor',
    registers: [registry],
    collect() {
      this.set(ops.getSnapshot().context.snapshotWriteFailures);
    },
  });
  new Gauge({
    name: 'paystate_pg_consecutive_failures',
    help: 'PG calls in a row that got no answer',
    registers: [registry],
    collect() {
      this.set(ops.getSnapshot().context.pgConsecutiveFailures);
    },
  });
  new Gauge({
    name: 'paystate_pg_calls_queued',
    help: 'PG calls waiting for a connection (their deadline has not started)',
    registers: [registry],
    collect() {
      this.set(pgQueued());
    },
  });
  const pgQueueWait = new Histogram({
    name: 'paystate_pg_queue_wait_seconds',
    help: 'Wait for a PG connection, by whether the call got one (acquired), ran out of time (expired) or was abandoned (aborted)',
    labelNames: ['operation', 'outcome'],
    buckets: [0.001, 0.01, 0.1, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const pgCalls = new Counter({
    name: 'paystate_pg_calls_total',
    help: 'PG calls by operation and outcome (HTTP status or error)',
    labelNames: ['operation', 'outcome'],
    registers: [registry],
  });
  const pgLatency = new Histogram({
    name: 'paystate_pg_call_seconds',
    help: 'PG call latency',
    labelNames: ['operation'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });

  return {
    registry,
    recordPgCall(operation, outcome, seconds) {
      pgCalls.inc({ operation, outcome });
      pgLatency.observe({ operation }, seconds);
    },
    recordPgQueueWait(operation, outcome, seconds) {
      pgQueueWait.observe({ operation, outcome }, seconds);
    },
  };
}
