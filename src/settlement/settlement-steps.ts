import { fromPromise } from 'xstate';
import { insertAlert } from '../../db/attention-repo.ts';
import type { Database } from '../../db/connection.ts';
import { listPartners } from '../../db/partners-repo.ts';
import { findRun, holdsRun, setUnattributed } from '../../db/settlement-runs-repo.ts';
import {
  countedPayments,
  ensureSettlement,
  movementsBetween,
  partnersOfPayments,
  replaceFigures,
  setDiscrepancies,
  settlementsOfDate,
} from '../../db/settlements-repo.ts';
import type { Sql } from '../../db/sql.ts';
import type { CheckOutput, FiguresOutput, SettlementMachine } from '../../machines/settlement.machine.ts';
import type { Logger } from '../logger.ts';
import type { PgClient } from '../pg/pg-client.ts';
import { dayBounds } from './business-day.ts';
import { compareWithPg, pgChargesOfDay, type Discrepancy } from './discrepancies.ts';
import { DEFAULT_CURRENCY, settleDay } from './figures.ts';

/**
 * A payment is created at the PG at most this long before it is paid: each charge attempt
 * is a new request there, answered (or given up on) within minutes.
 */
const CREATED_BEFORE_PAID_MS = 86_400_000;
const PAGE_SIZE = 1_000;
/** A list longer than this many pages is not a day's payments: the run fails instead of looping. */
const MAX_PAGES = 10_000;

export interface SettlementStepsDeps {
  db: Database;
  pg: Pick<PgClient, 'listPayments'>;
  clock: () => number;
  timeZone: string;
  logger: Logger;
  /** This process's lease owner id: a step writes only while its run's lease is ours. */
  owner: string;
}

const DESCRIBED: Record<Discrepancy['kind'], string> = {
  not_counted_here: 'paid at the PG but not counted by settlement',
  not_paid_at_pg: 'counted by settlement but not paid at the PG',
  amount_differs: 'counted with an amount the PG does not show',
};

/**
 * The settlement machine's two steps. Each is idempotent, as a restored actor runs its
 * step again: the figures replace the previous run's, and the check replaces the
 * discrepancies (alerting only on ones the last check did not report).
 */
export function createSettlementSteps(deps: SettlementStepsDeps): Parameters<SettlementMachine['provide']>[0]['actors'] {
  const { db, clock, timeZone } = deps;
  const log = deps.logger.child({ component: 'settlement' });

  /**
   * A step's writes, fenced: in one group-commit job that first checks the run is still
   * ours, its actor still running, and the transition into the step committed (a stopped
   * or overtaken run, or one whose transition write was refused, writes nothing).
   */
  function fenced<T>(date: string, step: string, signal: AbortSignal, work: (tx: Sql) => Promise<T>): Promise<T> {
    return db.commit.run(async (tx) => {
      if (signal.aborted || !(await holdsRun(tx, date, deps.owner, step))) {
        throw new Error(`settlement run of ${date} is no longer this process's, or its ${step} state was not committed`);
      }
      return work(tx);
    });
  }

  /** Lets the transition that started the step be written before the step writes anything. */
  const afterTheTransition = () => new Promise((resolve) => setImmediate(resolve));

  function computeFigures(date: string, signal: AbortSignal): Promise<FiguresOutput> {
    const { start, end } = dayBounds(date, timeZone);
    return fenced(date, 'processing.computing', signal, async (tx) => {
      const rates = new Map((await listPartners(tx)).map((p) => [p.id, p.feeRateBps]));
      const figures = settleDay(await movementsBetween(tx, start, end), rates);
      return { settlements: figures.length, lines: await replaceFigures(tx, date, figures, clock()) };
    });
  }

  /**
   * The charges the PG confirmed in [start, end), from its list of the payments created
   * from a day before the date to its end, page by page: only the day's charges are kept.
   */
  async function pgChargesBetween(start: number, end: number, signal: AbortSignal): Promise<Map<string, number>> {
    const charges = new Map<string, number>();
    const from = new Date(start - CREATED_BEFORE_PAID_MS).toISOString();
    const until = new Date(end).toISOString();
    let cursor: string | null = null;
    for (let page = 0; page < MAX_PAGES; page++) {
      const answer = await deps.pg.listPayments({ from, until, cursor, size: PAGE_SIZE }, signal);
      if (answer.kind === 'unknown') throw new Error(`the PG's payment list could not be fetched: ${answer.reason}`);
      for (const [paymentId, amount] of pgChargesOfDay(answer.items, start, end)) charges.set(paymentId, amount);
      if (answer.cursor === null || answer.cursor === cursor) return charges;
      cursor = answer.cursor;
    }
    throw new Error(`the PG's payment list did not end after ${MAX_PAGES} pages`);
  }

  async function recordDiscrepancies(tx: Sql, date: string, pgCharges: Map<string, number>): Promise<CheckOutput> {
    const now = clock();
    const counted = await countedPayments(tx, date);
    const ours = new Map<string, number>();
    const settlementOf = new Map<string, string>();
    for (const line of counted) {
      ours.set(line.paymentId, (ours.get(line.paymentId) ?? 0) + line.amount);
      settlementOf.set(line.paymentId, line.settlementId);
    }
    const found = compareWithPg(ours, pgCharges);
    const uncounted = found.filter((d) => !settlementOf.has(d.paymentId)).map((d) => d.paymentId);
    const partnerOf = await partnersOfPayments(tx, uncounted);
    const bySettlement = new Map<string, Discrepancy[]>((await settlementsOfDate(tx, date)).map((s) => [s.id, []]));
    const unattributed: Discrepancy[] = [];
    for (const discrepancy of found) {
      const partnerId = partnerOf.get(discrepancy.paymentId);
      const settlementId =
        settlementOf.get(discrepancy.paymentId) ??
        (partnerId === undefined ? undefined : await ensureSettlement(tx, date, partnerId, DEFAULT_CURRENCY, 'processing', now));
      if (settlementId === undefined) {
        // A payment this service never made: no partner carries it; the run keeps it.
        unattributed.push(discrepancy);
        continue;
      }
      if (!bySettlement.has(settlementId)) bySettlement.set(settlementId, []);
      bySettlement.get(settlementId)!.push(discrepancy);
    }
    for (const settlement of await settlementsOfDate(tx, date)) {
      const current = bySettlement.get(settlement.id) ?? [];
      await alertNew(tx, date, settlement.discrepancies, current, settlement.partnerId, now);
      await setDiscrepancies(tx, settlement.id, current);
    }
    await alertNew(tx, date, (await findRun(tx, date))?.unattributed ?? '[]', unattributed, null, now);
    await setUnattributed(tx, date, JSON.stringify(unattributed));
    if (found.length > 0) log.warn({ date, discrepancies: found.length }, 'settlement disagrees with the PG');
    return { discrepancies: found.length };
  }

  /** One alert per discrepancy the last check (`before`, as stored) did not already report. */
  async function alertNew(tx: Sql, date: string, before: string, current: readonly Discrepancy[], partnerId: string | null, at: number): Promise<void> {
    const known = new Set((JSON.parse(before) as Discrepancy[]).map(keyOf));
    for (const discrepancy of current) if (!known.has(keyOf(discrepancy))) await alert(tx, date, discrepancy, partnerId, at);
  }

  function alert(tx: Sql, date: string, discrepancy: Discrepancy, partnerId: string | null, at: number): Promise<void> {
    return insertAlert(tx, {
      paymentId: discrepancy.paymentId,
      severity: 'warning',
      title: `Settlement ${date}: payment ${discrepancy.paymentId} ${DESCRIBED[discrepancy.kind]}`,
      details: { date, partnerId, ...discrepancy },
      at,
    });
  }

  return {
    computeFigures: fromPromise<FiguresOutput, { date: string }>(async ({ input, signal }) => {
      await afterTheTransition();
      return computeFigures(input.date, signal);
    }),
    crossCheck: fromPromise<CheckOutput, { date: string }>(async ({ input, signal }) => {
      await afterTheTransition();
      const { start, end } = dayBounds(input.date, timeZone);
      const pgCharges = await pgChargesBetween(start, end, signal);
      return fenced(input.date, 'processing.checking', signal, (tx) => recordDiscrepancies(tx, input.date, pgCharges));
    }),
  };
}

const keyOf = (d: Discrepancy) => `${d.kind}:${d.paymentId}`;
