import { createActor, waitFor, type Actor, type EventObject, type SnapshotFrom } from 'xstate';
import { insertAlert } from '../../db/attention-repo.ts';
import type { Connection } from '../../db/connection.ts';
import { listPartners } from '../../db/partners-repo.ts';
import { claimRun, countRequest, insertRun, renewRunLeases, runsToResume, writeRun } from '../../db/settlement-runs-repo.ts';
import { ensureSettlement, setStatusOfDate } from '../../db/settlements-repo.ts';
import { RESTING, statePath, WAITING } from '../../machines/payment-status.ts';
import {
  SETTLEMENT_MACHINE_VERSION,
  settlementStatusOf,
  type SettlementAlert,
  type SettlementEvent,
  type SettlementInput,
  type SettlementMachine,
  type SettlementRetry,
} from '../../machines/settlement.machine.ts';
import type { Logger } from '../logger.ts';
import { startPollingLoop } from '../polling-loop.ts';
import { DEFAULT_CURRENCY } from './figures.ts';

type SettlementActor = Actor<SettlementMachine>;
type SettlementSnapshot = SnapshotFrom<SettlementMachine>;

export interface SettlementRunnerDeps {
  conn: Connection;
  /** The settlement machine with its steps provided. */
  machine: SettlementMachine;
  retry: SettlementRetry;
  clock: () => number;
  logger: Logger;
  /** This process's lease owner id. */
  owner: string;
  leaseTtlMs: number;
  /** How often runs nobody drives (a crashed process's, a failed one due to retry) are looked for. */
  pollMs: number;
}

interface LiveRun {
  actor: SettlementActor;
  /** Alerts emitted since the last write, written with it. */
  alerts: SettlementAlert[];
}

/** Who asked for a run: the schedule asks once per date; an operator may ask again. */
export type RunRequester = 'schedule' | 'operator';

/**
 * Drives the settlement actors, one per business date, the way the payment host drives
 * payments: each transition's snapshot is written under a lease (with the settlements'
 * status and the run's alerts, in one transaction), an actor that rests or waits leaves
 * memory, and runs that nobody drives are taken up again by any process.
 */
export function createSettlementRunner(deps: SettlementRunnerDeps) {
  const { conn, clock, owner, leaseTtlMs } = deps;
  const db = conn.db;
  const log = deps.logger.child({ component: 'settlement-runner' });
  const live = new Map<string, LiveRun>();

  function persist(date: string, run: LiveRun, event: EventObject, snapshot: SettlementSnapshot): void {
    if (live.get(date) !== run || event.type === 'xstate.init') return;
    const now = clock();
    const status = settlementStatusOf(snapshot);
    const idle = snapshot.hasTag(WAITING) || snapshot.hasTag(RESTING);
    const alerts = run.alerts;
    run.alerts = [];
    let written = false;
    try {
      written = conn.sqlite
        .transaction(() => {
          const stillOurs = writeRun(db, date, owner, {
            state: statePath(snapshot.value),
            status,
            snapshot: JSON.stringify(run.actor.getPersistedSnapshot()),
            machineVersion: SETTLEMENT_MACHINE_VERSION,
            dueAt: snapshot.hasTag(WAITING) ? now + snapshot.context.waitMs : null,
            updatedAt: now,
            leaseExpiresAt: idle ? null : now + leaseTtlMs,
          });
          if (!stillOurs) return false;
          setStatusOfDate(db, date, status, now);
          for (const { severity, title, details } of alerts) insertAlert(db, { paymentId: null, severity, title, details, at: now });
          return true;
        })
        .immediate();
    } catch (error) {
      log.error({ date, err: error }, 'settlement run could not be written; it resumes from its last write');
    }
    if (!written) log.warn({ date }, 'settlement run left to another process or a later round');
    // Resting, waiting, or no longer ours: the database holds the run, a poll round or a request wakes it.
    if (!written || idle) stop(date, run);
  }

  function stop(date: string, run: LiveRun): void {
    if (live.get(date) === run) live.delete(date);
    queueMicrotask(() => run.actor.stop());
  }

  /** Takes the run's lease and brings its actor into memory; undefined when another process drives it. */
  function hydrate(date: string): LiveRun | undefined {
    const existing = live.get(date);
    if (existing) return existing;
    const row = claimRun(db, date, owner, clock(), leaseTtlMs);
    if (!row) return undefined;
    if (row.machineVersion !== SETTLEMENT_MACHINE_VERSION) {
      log.error({ date, machineVersion: row.machineVersion }, 'settlement snapshot of a machine version this code cannot read');
      return undefined;
    }
    const run: LiveRun = { actor: undefined as unknown as SettlementActor, alerts: [] };
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
    return live.get(date);
  }

  /** Wakes a run nobody drives: a requested one starts, a failed one retries, a running one goes on. */
  function takeUp(date: string): void {
    const run = hydrate(date);
    if (!run) return;
    const snapshot = run.actor.getSnapshot();
    const event: SettlementEvent | undefined = snapshot.matches('requested') ? { type: 'run' } : snapshot.matches('failed') ? { type: 'timer.due' } : undefined;
    if (event) run.actor.send(event);
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
      renewRunLeases(db, [...live.keys()], owner, now + leaseTtlMs);
      for (const date of runsToResume(db, owner, now)) if (!live.has(date)) takeUp(date);
    },
    deps.pollMs,
    (error) => log.error({ err: error }, 'settlement poll failed'),
  );

  return {
    /**
     * Asks for a date's settlement. The schedule's request makes the run only if the date
     * has none (so two processes on one database settle a date once); an operator's runs it
     * again. Registered partners get their settlement at once, with status `requested`.
     * Returns false when the schedule found the date already run.
     */
    request(date: string, by: RunRequester): boolean {
      const now = clock();
      const asked = conn.sqlite
        .transaction(() => {
          if (insertRun(db, newRun(date, now))) {
            for (const partner of listPartners(db)) ensureSettlement(db, date, partner.id, DEFAULT_CURRENCY, 'requested', now);
            return true;
          }
          if (by === 'schedule') return false;
          countRequest(db, date, now);
          return true;
        })
        .immediate();
      if (!asked) return false;
      const run = hydrate(date);
      // Another process drives the date right now: its run answers the request.
      run?.actor.send({ type: 'run' });
      return true;
    },

    /** Resolves once the date's run (if this process drives it) is no longer running, or after `timeoutMs`. */
    async settled(date: string, timeoutMs: number): Promise<void> {
      const run = live.get(date);
      if (!run) return;
      const idle = (s: SettlementSnapshot) => s.hasTag(WAITING) || s.hasTag(RESTING);
      await waitFor(run.actor, idle, { timeout: timeoutMs }).catch(() => undefined);
    },

    isLive: (date: string) => live.has(date),

    /** Stops every actor; a run in the middle of a step resumes after restart (its step runs again). */
    async stop(): Promise<void> {
      await poll.stop();
      for (const [date, run] of live) {
        live.delete(date);
        run.actor.stop();
      }
    },
  };
}

export type SettlementRunner = ReturnType<typeof createSettlementRunner>;
