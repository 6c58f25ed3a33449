import type { SettlementStatus } from '../machines/settlement.machine.ts';
import { settlementRuns } from './schema.ts';
import { insertRow } from './insert-row.ts';
import { selectList } from './select-list.ts';
import { jsonList, type Sql } from './sql.ts';

export type SettlementRunRow = typeof settlementRuns.$inferSelect;

const RUN_COLUMNS = selectList(settlementRuns);
const INSERT_RUN = insertRow(settlementRuns, 'on conflict do nothing');

/** Returns false when the date already has a run. */
export async function insertRun(q: Sql, run: SettlementRunRow): Promise<boolean> {
  const changed = await q.run(INSERT_RUN.text, INSERT_RUN.params(run));
  return changed === 1;
}

export function findRun(q: Sql, date: string): Promise<SettlementRunRow | undefined> {
  return q.get<SettlementRunRow>(`select ${RUN_COLUMNS} from settlement_runs where date = @date`, { date });
}

const REQUEST_AGAIN = `update settlement_runs set pending = 1, requests = requests + 1, requested_at = @now, updated_at = @now
  where date = @date`;

/**
 * Asks for the date's run again: pending until a run starts after it. With
 * `unlessAskedSince`, only when it was last asked before that instant (a schedule asks
 * once for a day that is over, however many processes fire). True when it asked.
 */
export async function requestAgain(q: Sql, date: string, now: number, unlessAskedSince?: number): Promise<boolean> {
  const changed =
    unlessAskedSince === undefined
      ? await q.run(REQUEST_AGAIN, { date, now })
      : await q.run(`${REQUEST_AGAIN} and requested_at < @since`, { date, now, since: unlessAskedSince });
  return changed === 1;
}

/** The run's lease is free, expired, or `owner`'s own. */
const LEASE_FREE = '(lease_owner is null or lease_owner = @owner or lease_expires_at < @now)';

const CLAIM_RUN = `update settlement_runs set lease_owner = @owner, lease_expires_at = @expiresAt
  where date = @date and ${LEASE_FREE} returning ${RUN_COLUMNS}`;

/** Takes the run's lease (free, expired, or ours already): only its holder drives the actor. */
export function claimRun(q: Sql, date: string, owner: string, now: number, ttlMs: number): Promise<SettlementRunRow | undefined> {
  return q.get<SettlementRunRow>(CLAIM_RUN, { date, owner, now, expiresAt: now + ttlMs });
}

/** Whether the run's lease is still this owner's: every write of a step checks it first. */
/** The run is leased to `owner` and its committed state is `state`. */
export async function holdsRun(q: Sql, date: string, owner: string, state: string): Promise<boolean> {
  const row = await q.get<{ date: string }>(
    'select date from settlement_runs where date = @date and lease_owner = @owner and state = @state',
    { date, owner, state },
  );
  return row !== undefined;
}

export interface RunWrite {
  state: string;
  status: SettlementStatus;
  snapshot: string;
  machineVersion: number;
  dueAt: number | null;
  updatedAt: number;
  /** Null once the actor rests or waits: any process may then take the run up. */
  leaseExpiresAt: number | null;
  /** A run starts: the requests made so far are answered by it. */
  startsRun: boolean;
}

const WRITE_RUN = `update settlement_runs set state = @state, status = @status, snapshot = @snapshot,
  machine_version = @machineVersion, due_at = @dueAt, updated_at = @updatedAt,
  lease_owner = case when @keepOwner = 1 then lease_owner else null end, lease_expires_at = @leaseExpiresAt,
  pending = case when @startsRun = 1 then 0 else pending end
  where date = @date and lease_owner = @owner returning ${RUN_COLUMNS}`;

/**
 * Writes the actor's snapshot while we hold the lease. Returns the row as written, or
 * undefined when another process took the lease.
 */
export function writeRun(q: Sql, date: string, owner: string, { startsRun, ...write }: RunWrite): Promise<SettlementRunRow | undefined> {
  return q.get<SettlementRunRow>(WRITE_RUN, {
    date,
    owner,
    state: write.state,
    status: write.status,
    snapshot: write.snapshot,
    machineVersion: write.machineVersion,
    dueAt: write.dueAt,
    updatedAt: write.updatedAt,
    keepOwner: write.leaseExpiresAt === null ? 0 : 1,
    leaseExpiresAt: write.leaseExpiresAt,
    startsRun: startsRun ? 1 : 0,
  });
}

const RUNS_TO_RESUME = `select date from settlement_runs
  where ${LEASE_FREE}
    and (status in ('requested', 'processing') or (status = 'failed' and due_at <= @now) or pending = 1)`;

/**
 * Runs no process is driving that have work: started or running under a lease that is
 * free or expired (its process died), failed and due to retry, or asked for again.
 */
export async function runsToResume(q: Sql, owner: string, now: number): Promise<string[]> {
  const rows = await q.all<{ date: string }>(RUNS_TO_RESUME, { owner, now });
  return rows.map((row) => row.date);
}

export async function renewRunLeases(q: Sql, dates: readonly string[], owner: string, until: number): Promise<void> {
  if (dates.length === 0) return;
  await q.run(`update settlement_runs set lease_expires_at = @until where date in ${jsonList(q, 'dates')} and lease_owner = @owner`, {
    dates: JSON.stringify(dates),
    owner,
    until,
  });
}

/** The first date ever settled here, if any: the schedule catches up on dates after it. */
export async function earliestRunDate(q: Sql): Promise<string | undefined> {
  return (await q.get<{ date: string | null }>('select min(date) as date from settlement_runs'))?.date ?? undefined;
}

export async function setUnattributed(q: Sql, date: string, discrepancies: string): Promise<void> {
  await q.run('update settlement_runs set unattributed = @discrepancies where date = @date', { date, discrepancies });
}

export async function releaseRun(q: Sql, date: string, owner: string): Promise<void> {
  await q.run('update settlement_runs set lease_owner = null, lease_expires_at = null where date = @date and lease_owner = @owner', {
    date,
    owner,
  });
}
