import { insertAlert } from '../../db/attention-repo.ts';
import type { Database } from '../../db/connection.ts';
import type { Logger } from '../logger.ts';
import type { PgOperation } from '../pg/pg-client.ts';

export interface PgAuthAlarmDeps {
  db: Database;
  clock: () => number;
  logger: Logger;
  /** At most one alert per this long: every payment asks again, and one page is enough. */
  quietMs: number;
}

/**
 * The PG refuses our credentials (401/403): a configuration fault of ours, so no payment
 * can move and none is failed for it (they keep asking). Someone must fix PG_SECRET or
 * PG_STORE_ID now: an urgent alert, written as a row and posted by the alert relay.
 */
export function createPgAuthAlarm({ db, clock, logger, quietMs }: PgAuthAlarmDeps) {
  let lastRaisedAt = Number.NEGATIVE_INFINITY;
  return (operation: PgOperation, status: number): void => {
    const now = clock();
    if (now - lastRaisedAt < quietMs) return;
    lastRaisedAt = now;
    db.commit
      .run((tx) =>
        insertAlert(tx, {
          paymentId: null,
          severity: 'urgent',
          title: `The PG refuses our credentials (HTTP ${status}): no payment can move`,
          details: { operation, status, check: 'PG_SECRET and PG_STORE_ID' },
          at: now,
        }),
      )
      .catch((error: unknown) => logger.error({ err: error }, 'could not record the PG credentials alert'));
  };
}
