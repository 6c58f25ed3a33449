import { Cron } from 'croner';
import type { Database } from '../../db/connection.ts';
import { earliestRunDate } from '../../db/settlement-runs-repo.ts';
import type { Logger } from '../logger.ts';
import { addDays, dateAt, dayBounds } from './business-day.ts';
import type { SettlementRunner } from './settlement-runner.ts';

/** Firings looked back on at start-up: a process down longer than this leaves older dates to an operator. */
const CATCH_UP_FIRINGS = 31;

export interface SettlementScheduleDeps {
  db: Database;
  runner: SettlementRunner;
  /** SETTLEMENT_CRON, read in the settlement time zone. */
  cron: string;
  timeZone: string;
  clock: () => number;
  logger: Logger;
}

/**
 * Settles the day before at every firing of the cron, in the settlement time zone. Every
 * process fires; a date is asked for once its day is over, and only if nobody asked for
 * it since (an operator may have run it while it was still going on), so two processes on
 * one database settle it once. A process that starts after firings it missed (it was
 * down) settles those dates then, once settlement has begun on this database (a fresh one
 * waits for its first firing or an operator).
 */
export async function startSettlementSchedule(deps: SettlementScheduleDeps) {
  const log = deps.logger.child({ component: 'settlement-schedule' });
  const dateBefore = (at: number) => addDays(dateAt(at, deps.timeZone), -1);
  const settle = async (date: string) => {
    if (await deps.runner.request(date, dayBounds(date, deps.timeZone).end)) log.info({ date }, 'settlement run requested by the schedule');
  };
  /** The firing under way, if any: stopping waits for it (it may still be taking a run up). */
  let firing: Promise<void> = Promise.resolve();
  const job = new Cron(
    deps.cron,
    { timezone: deps.timeZone, protect: true, catch: (error: unknown) => log.error({ err: error }, 'scheduled settlement failed to start') },
    () => (firing = settle(dateBefore(deps.clock()))),
  );
  const since = await earliestRunDate(deps.db.read);
  if (since !== undefined) {
    const missed = job.previousRuns(CATCH_UP_FIRINGS, new Date(deps.clock())).map((firing) => dateBefore(firing.getTime()));
    for (const date of [...new Set(missed)].sort()) if (date >= since) await settle(date);
  }
  return {
    /** Stops the schedule; resolves once a firing under way has finished. */
    async stop(): Promise<void> {
      job.stop();
      await firing.catch(() => undefined);
    },
  };
}
