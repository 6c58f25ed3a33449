import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { InvariantReport, Violation } from '../invariants/check-invariants.ts';
import type { LedgerEntry } from '../../src/mock-pg/mock-pg.ts';
import type { PaymentResource } from './load.ts';
import type { MerchantReport } from './merchant.ts';
import type { Options } from './options.ts';
import type { ProductSpec } from './plan.ts';
import { increment, type Mismatch, type RunStats } from './stats.ts';

export interface Durations {
  startupMs: number;
  loadMs: number;
  restMs: number;
  checkMs: number;
  totalMs: number;
}

export interface ChaosReport {
  verdict: 'pass' | 'fail';
  /** Why the run failed; empty when it passed. */
  reasons: string[];
  options: Options;
  startedAt: string;
  finishedAt: string;
  durations: Durations;
  atRest: boolean;
  /** As created, with their starting stock. */
  products: ProductSpec[];
  payments: RunStats['purchases'] & { total: number; byStatus: Record<string, number> };
  pg: { payments: number; byStatus: Record<string, number>; charges: number; cancellations: number };
  kills: RunStats['kills'];
  replays: RunStats['replays'];
  reuses: RunStats['reuses'];
  cancels: RunStats['cancels'];
  http: RunStats['http'];
  violations: { total: number; byKind: Record<string, number>; list: Violation[] };
  /**
   * Payments left for an operator, beside what the PG says of them: the checker does not
   * compare these, yet a refund the PG made while the service gave up is worth seeing.
   */
  attention: AttentionCase[];
  clientMismatches: { total: number; byKind: Record<string, number>; list: Mismatch[] };
  /** The merchant's webhook endpoint: every event at least once, each payment's in sequence. */
  merchant: MerchantReport;
  /** The outbox in the database against the pull feed, which lists an event once it is handed out. */
  events: { inDatabase: number; inFeed: number };
  /** Kept with --keep: the database and the processes' logs. */
  tempDir: string | null;
}

export interface AttentionCase {
  paymentId: string;
  failureCode: string | null;
  amount: number;
  cancelledAmount: number;
  pg: { status: string; paidAmount: number; cancelledAmount: number } | null;
}

export interface ReportInput {
  options: Options;
  startedAt: number;
  durations: Durations;
  atRest: boolean;
  products: ProductSpec[];
  stats: RunStats;
  invariants: InvariantReport;
  ledger: LedgerEntry[];
  /** As the API lists them once at rest. */
  payments: Map<string, PaymentResource>;
  merchant: MerchantReport;
  /** Events the database held once the feed was read for the last time. */
  eventsInDatabase: number;
  tempDir: string | null;
}

function byKind(items: Array<{ kind: string }>): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const { kind } of items) increment(counts, kind);
  return counts;
}

function attentionCases(payments: Map<string, PaymentResource>, ledger: LedgerEntry[]): AttentionCase[] {
  const ledgerById = new Map(ledger.map((entry) => [entry.paymentId, entry]));
  return [...payments.values()]
    .filter((payment) => payment.status === 'requires_attention')
    .map(({ id, failureCode, amount, cancelledAmount }) => {
      const entry = ledgerById.get(id);
      return {
        paymentId: id,
        failureCode,
        amount,
        cancelledAmount,
        pg: entry ? { status: entry.status, paidAmount: entry.paidAmount, cancelledAmount: entry.cancelledAmount } : null,
      };
    });
}

export function buildReport(input: ReportInput): ChaosReport {
  const { options, startedAt, durations, atRest, products, stats, invariants, ledger, tempDir } = input;
  const pgByStatus: Record<string, number> = {};
  for (const entry of ledger) increment(pgByStatus, entry.status);
  const reasons = [
    !atRest && `payments still in flight after ${options.deadlineSeconds} s`,
    invariants.violations.length > 0 && `${invariants.violations.length} invariant violations`,
    stats.mismatches.length > 0 && `${stats.mismatches.length} client-side mismatches`,
    input.merchant.expected < input.eventsInDatabase &&
      `the pull feed lists ${input.merchant.expected} of the ${input.eventsInDatabase} events in the database`,
    input.merchant.missing.length > 0 && `${input.merchant.missing.length} events never reached the merchant`,
    input.merchant.outOfOrder.length > 0 && `${input.merchant.outOfOrder.length} payments' events out of sequence`,
    input.merchant.forged > 0 && `${input.merchant.forged} deliveries failed signature verification`,
  ].filter((reason) => reason !== false);
  return {
    verdict: reasons.length === 0 ? 'pass' : 'fail',
    reasons,
    options,
    startedAt: new Date(startedAt).toISOString(),
    finishedAt: new Date().toISOString(),
    durations,
    atRest,
    products,
    payments: { ...stats.purchases, total: invariants.payments, byStatus: invariants.byStatus },
    pg: {
      payments: ledger.length,
      byStatus: pgByStatus,
      charges: ledger.reduce((sum, entry) => sum + entry.charges, 0),
      cancellations: ledger.reduce((sum, entry) => sum + entry.cancellations.length, 0),
    },
    kills: stats.kills,
    replays: stats.replays,
    reuses: stats.reuses,
    cancels: stats.cancels,
    http: stats.http,
    violations: { total: invariants.violations.length, byKind: byKind(invariants.violations), list: invariants.violations },
    attention: attentionCases(input.payments, ledger),
    clientMismatches: { total: stats.mismatches.length, byKind: byKind(stats.mismatches), list: stats.mismatches },
    merchant: input.merchant,
    events: { inDatabase: input.eventsInDatabase, inFeed: input.merchant.expected },
    tempDir,
  };
}

export function writeReport(path: string, report: ChaosReport): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(report, null, 2)}\n`);
}
