import { Cron } from 'croner';
import type { Db } from '../../db/connection.ts';
import { findRun, hasAnyRun } from '../../db/settlement-runs-repo.ts';
import type { Logger } from '../logger.ts';
import { addDays, dateAt } from './business-day.ts';
import type { SettlementRunner } from './settlement-runner.ts';

export interface SettlementScheduleDeps {
  db: Db;
  runner: SettlementRunner;
  /** SETTLEMENT_CRON, read in the settlement time zone. */
  cron: string;
  timeZone: string;
  clock: () => number;
  logger: Logger;
}

/**
 * Settles the day before at every firing of the cron, in the settlement time zone. Every
 * process fires; the run row makes the date run once. A process that starts after a
 * firing it missed (it was down) settles that date then, once settlement has begun on
 * this database (a fresh one waits for its first firing or an operator).
 */
export function startSettlementSchedule(deps: SettlementScheduleDeps) {
  const log = deps.logger.child({ component: 'settlement-schedule' });
  const dateBefore = (at: number) => addDays(dateAt(at, deps.timeZone), -1);
  const settle = (date: string) => {
    if (deps.runner.request(date, 'schedule')) log.info({ date }, 'settlement run requested by the schedule');
  };
  const job = new Cron(
    deps.cron,
    { timezone: deps.timeZone, protect: true, catch: (error: unknown) => log.error({ err: error }, 'scheduled settlement failed to start') },
    () => settle(dateBefore(deps.clock())),
  );
  const [lastFiring] = job.previousRuns(1, new Date(deps.clock()));
  if (lastFiring && hasAnyRun(deps.db)) {
    const missed = dateBefore(lastFiring.getTime());
    if (!findRun(deps.db, missed)) settle(missed);
  }
  return { stop: () => job.stop() };
}
