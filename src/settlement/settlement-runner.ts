import { createActor, type Actor, type EventObject, type SnapshotFrom } from 'xstate';
import { insertAlert } from '../../db/attention-repo.ts';
import type { Database } from '../../db/connection.ts';
import { listPartners } from '../../db/partners-repo.ts';
import {
  claimRun,
  findRun,
  insertRun,
  releaseRun,
  renewRunLeases,
  requestAgain,
  runsToResume,
  writeRun,
  type RunWrite,
} from '../../db/settlement-runs-repo.ts';
import { ensureSettlement, setStatusOfDate } from '../../db/settlements-repo.ts';
import type { MachineAlert } from '../../machines/alert.ts';
import { RESTING, statePath, WAITING } from '../../machines/payment-status.ts';
import {
  SETTLEMENT_MACHINE_VERSION,
  settlementStatusOf,
  type SettlementInput,
  type SettlementMachine,
  type SettlementRetry,
  type SettlementStatus,
} from '../../machines/settlement.machine.ts';
import type { Logger } from '../logger.ts';
import { startPollingLoop } from '../polling-loop.ts';
import { DEFAULT_CURRENCY } from './figures.ts';

type SettlementActor = Actor<SettlementMachine>;
type SettlementSnapshot = SnapshotFrom<SettlementMachine>;

export interface SettlementRunnerDeps {
  db: Database;
  /** The settlement machine with its steps provided. */
  machine: SettlementMachine;
  retry: SettlementRetry;
  clock: () => number;
  logger: Logger;
  /** This process's lease owner id. */
  owner: string;
  leaseTtlMs: number;
  /** How often runs nobody drives (a crashed process's, a failed one due, one asked for again) are looked for. */
  pollMs: number;
}

interface LiveRun {
  actor: SettlementActor;
  /** Alerts emitted since the last write, written with it. */
  alerts: MachineAlert[];
  /** Status of the last write queued: a write into `processing` from another status starts a run. */
  lastStatus: SettlementStatus;
}

/** How often `settled()` reads the run while it waits. */
const SETTLED_POLL_MS = 50;

/**
 * Drives the settlement actors, one per business date, the way the payment host drives
 * payments: each transition's snapshot is written under a lease (with the settlements'
 * status and the run's alerts, in one transaction), an actor that rests or waits leaves
 * memory, and runs that nobody drives are taken up again by any process. A request is a
 * row flag (`pending`) before it is an event: it survives a crash, and one made while a
 * run is under way is answered by the next run, not lost.
 */
export function createSettlementRunner(deps: SettlementRunnerDeps) {
  const { db, clock, owner, leaseTtlMs } = deps;
  const log = deps.logger.child({ component: 'settlement-runner' });
  const live = new Map<string, LiveRun>();
  /** Dates whose snapshot this code cannot read: said once, then left to an operator. */
  const unreadable = new Set<string>();

  /**
   * Queues the transition's write from the inspection callback itself: jobs commit in the
   * order they are queued, so the write of a transition lands before anything its step
   * writes, and before the next transition's.
   */
  function persist(date: string, run: LiveRun, event: EventObject, snapshot: SettlementSnapshot): void {
    if (live.get(date) !== run || event.type === 'xstate.init') return;
    const now = clock();
    const status = settlementStatusOf(snapshot);
    const idle = snapshot.hasTag(WAITING) || snapshot.hasTag(RESTING);
    const alerts = run.alerts;
    run.alerts = [];
    const write: RunWrite = {
      state: statePath(snapshot.value),
      status,
      snapshot: JSON.stringify(run.actor.getPersistedSnapshot()),
      machineVersion: SETTLEMENT_MACHINE_VERSION,
      dueAt: snapshot.hasTag(WAITING) ? now + snapshot.context.waitMs : null,
      updatedAt: now,
      leaseExpiresAt: idle ? null : now + leaseTtlMs,
      startsRun: status === 'processing' && run.lastStatus !== 'processing',
    };
    run.lastStatus = status;
    void db.commit
      .run(async (tx) => {
        const row = await writeRun(tx, date, owner, write);
        if (!row) return undefined;
        await setStatusOfDate(tx, date, status, now);
        for (const { severity, title, details } of alerts) await insertAlert(tx, { paymentId: null, severity, title, details, at: now });
        return row;
      })
      .then(
        (written) => {
          // Stopped while the write was committing (shutdown, an earlier write refused): nothing more to do here.
          if (live.get(date) !== run) return;
          if (!written) {
            log.warn({ date }, 'settlement run taken over by another process');
            stop(date, run);
          } else if (idle && written.pending === 1) {
            // Asked again while it ran: the next run starts now.
            run.actor.send({ type: 'run' });
          } else if (idle) {
            stop(date, run);
          }
        },
        (error: unknown) => {
          // The lease stays ours and the row as it was (a request still pending): a poll takes it up again.
          log.error({ date, err: error }, 'settlement run could not be written; it resumes from its last write');
          stop(date, run);
        },
      );
  }

  function stop(date: string, run: LiveRun): void {
    if (live.get(date) === run) live.delete(date);
    queueMicrotask(() => run.actor.stop());
  }

  /** Takes the run's lease and brings its actor into memory; undefined when another process drives it. */
  async function hydrate(date: string): Promise<{ run: LiveRun; pending: boolean } | undefined> {
    const existing = live.get(date);
    if (existing) return { run: existing, pending: false };
    const row = await db.commit.run((tx) => claimRun(tx, date, owner, clock(), leaseTtlMs));
    if (!row) return undefined;
    if (row.machineVersion !== SETTLEMENT_MACHINE_VERSION) {
      if (!unreadable.has(date)) log.error({ date, machineVersion: row.machineVersion }, 'settlement snapshot of a machine version this code cannot read');
      unreadable.add(date);
      await db.commit.run((tx) => releaseRun(tx, date, owner));
      return undefined;
    }
    const run: LiveRun = { actor: undefined as unknown as SettlementActor, alerts: [], lastStatus: row.status };
    run.actor = createActor(deps.machine, {
      snapshot: JSON.parse(row.snapshot) as ReturnType<SettlementActor['getPersistedSnapshot']>,
      // Read only when a machine starts fresh; a restored actor takes its context from the snapshot.
      input: undefined as unknown as SettlementInput,
      inspect: (inspection) => {
        if (inspection.type === '@xstate.snapshot' && inspection.actorRef === run.actor) {
          persist(date, run, inspection.event, inspection.snapshot as SettlementSnapshot);
        }
      },
    });
    run.actor.on('alert', (alert) => run.alerts.push(alert));
    run.actor.subscribe({ error: (error) => log.error({ date, err: error }, 'settlement actor failed') });
    live.set(date, run);
    // A restored actor runs the step it was in again (both steps are idempotent).
    run.actor.start();
    return { run, pending: row.pending === 1 };
  }

  /**
   * Take-ups run one at a time, each after the one before has ended: it then sees what
   * that one did (an actor brought into memory, a lease released), so two take-ups of a
   * date (the poll's and a request's) never bring in two actors.
   */
  let takingUp: Promise<unknown> = Promise.resolve();
  function takeUp(date: string): Promise<void> {
    const next = takingUp.then(() => wake(date));
    takingUp = next.catch(() => undefined);
    return next;
  }

  /**
   * Wakes a run nobody drives: a requested one or one asked for again starts, a failed
   * one retries, a running one goes on (its restored actor runs its step again).
   */
  async function wake(date: string): Promise<void> {
    const taken = await hydrate(date);
    if (!taken) return;
    const snapshot = taken.run.actor.getSnapshot();
    if (snapshot.hasTag('processing')) return;
    if (taken.pending || snapshot.matches('requested')) taken.run.actor.send({ type: 'run' });
    else if (snapshot.matches('failed')) taken.run.actor.send({ type: 'timer.due' });
    else {
      // Nothing to do after all (another process ran it meanwhile): let anyone take it up.
      stop(date, taken.run);
      await db.commit.run((tx) => releaseRun(tx, date, owner));
    }
  }

  function newRun(date: string, now: number) {
    const actor = createActor(deps.machine, { input: { date, retry: deps.retry } });
    const snapshot = actor.getSnapshot();
    return {
      date,
      state: statePath(snapshot.value),
      status: settlementStatusOf(snapshot),
      snapshot: JSON.stringify(actor.getPersistedSnapshot()),
      machineVersion: SETTLEMENT_MACHINE_VERSION,
      requests: 1,
      requestedAt: now,
      pending: 1,
      unattributed: '[]',
      dueAt: null,
      leaseOwner: null,
      leaseExpiresAt: null,
      createdAt: now,
      updatedAt: now,
    };
  }

  const poll = startPollingLoop(
    async () => {
      const now = clock();
      const dates = [...live.keys()];
      // An idle poll writes nothing.
      if (dates.length > 0) await db.commit.run((tx) => renewRunLeases(tx, dates, owner, now + leaseTtlMs));
      for (const date of await runsToResume(db.read, owner, now)) if (!live.has(date) && !unreadable.has(date)) await takeUp(date);
    },
    deps.pollMs,
    (error) => log.error({ err: error }, 'settlement poll failed'),
  );

  return {
    /**
     * Asks for a date's settlement; registered partners get theirs at once, `requested`.
     * With `unlessAskedSince` (the schedule: the date's end), a date last asked at or after
     * that instant is not asked again, so two processes firing together ask once. A request
     * made while the date is running is answered by a run that starts after it. Returns
     * false when nothing was asked.
     */
    async request(date: string, unlessAskedSince?: number): Promise<boolean> {
      const now = clock();
      const asked = await db.commit.run(async (tx) => {
        if (await insertRun(tx, newRun(date, now))) {
          for (const partner of await listPartners(tx)) await ensureSettlement(tx, date, partner.id, DEFAULT_CURRENCY, 'requested', now);
          return true;
        }
        return requestAgain(tx, date, now, unlessAskedSince);
      });
      if (!asked) return false;
      const running = live.get(date);
      // A run under way here answers the request when it ends (persist sees it pending).
      if (!running) await takeUp(date);
      return true;
    },

    /**
     * Resolves once no request of the date waits and its run is not running (completed, or
     * failed and waiting to retry), or after `timeoutMs`: whichever process runs it.
     */
    async settled(date: string, timeoutMs: number): Promise<void> {
      const deadline = clock() + timeoutMs;
      for (;;) {
        const row = await findRun(db.read, date);
        if (!row || (row.pending === 0 && (row.status === 'completed' || row.status === 'failed')) || clock() >= deadline) return;
        await new Promise((resolve) => setTimeout(resolve, SETTLED_POLL_MS));
      }
    },

    isLive: (date: string) => live.has(date),

    /** Stops every actor; a run in the middle of a step resumes after restart (its step runs again). */
    async stop(): Promise<void> {
      await poll.stop();
      // A take-up under way (a request's) brings its actor in first, to be stopped with the rest.
      await takingUp;
      for (const [date, run] of live) {
        live.delete(date);
        run.actor.stop();
      }
    },
  };
}

export type SettlementRunner = ReturnType<typeof createSettlementRunner>;
