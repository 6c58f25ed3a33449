import { assign, enqueueActions, fromPromise, setup } from 'xstate';
import type { MachineAlert } from './alert.ts';
import { backoffMs } from './backoff.ts';
import { RESTING, WAITING } from './payment-status.ts';

/** Bumped whenever a change makes older persisted snapshots unreadable by this machine. */
export const SETTLEMENT_MACHINE_VERSION = 1;

/** The settlement status of API.md; each state carries exactly one as a tag. */
export const SETTLEMENT_STATUSES = ['requested', 'processing', 'completed', 'failed'] as const;
export type SettlementStatus = (typeof SETTLEMENT_STATUSES)[number];

export interface SettlementRetry {
  /** First backoff ceiling; doubles per failure up to capMs (full jitter below it). */
  baseMs: number;
  capMs: number;
  /** Failures in a row after which the alert turns urgent. */
  urgentAfter: number;
}

export interface SettlementInput {
  /** The business date, YYYY-MM-DD in the settlement time zone. */
  date: string;
  retry: SettlementRetry;
}

export interface SettlementContext {
  date: string;
  retry: SettlementRetry;
  /** Failures in a row of the current run; a completed run starts the count over. */
  failures: number;
  /** Length of the current wait; the host turns it into the due_at column. */
  waitMs: number;
  lastError: string | null;
}

/** `run`: the schedule or an operator asks for the date (again); `timer.due`: a wait is over. */
export type SettlementEvent = { type: 'run' } | { type: 'timer.due' };

export interface FiguresOutput {
  settlements: number;
  lines: number;
}

export interface CheckOutput {
  discrepancies: number;
}

const notProvided = (): Promise<never> => Promise.reject(new Error('actor not provided'));

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

const settlementSetup = setup({
  types: {
    context: {} as SettlementContext,
    events: {} as SettlementEvent,
    input: {} as SettlementInput,
    emitted: {} as MachineAlert,
  },
  actors: {
    /** Adds up the date's money movements per partner and writes settlements and lines (replacing a previous run's). */
    computeFigures: fromPromise<FiguresOutput, { date: string }>(notProvided),
    /** Compares the counted payments with the PG's list of the date; writes discrepancies and their alerts. */
    crossCheck: fromPromise<CheckOutput, { date: string }>(notProvided),
  },
  actions: {
    /** A failed step waits and the run starts again from its figures: every step replaces what it wrote. */
    recordFailure: enqueueActions(({ context, event, enqueue }) => {
      const failures = context.failures + 1;
      const lastError = messageOf((event as { error?: unknown }).error);
      enqueue.assign({ failures, lastError, waitMs: backoffMs(failures, context.date, context.retry.baseMs, context.retry.capMs) });
      if (failures === 1 || failures === context.retry.urgentAfter) {
        enqueue.emit({
          type: 'alert',
          severity: failures === 1 ? 'warning' : 'urgent',
          title: `Settlement of ${context.date} failed; it is retried`,
          details: { date: context.date, failures, error: lastError },
        });
      }
    }),
    recordSuccess: assign({ failures: 0, waitMs: 0, lastError: null }),
  },
});

/**
 * The settlement of one business date: requested → processing (figures, then the check
 * against the PG) → completed; a failed step makes the run `failed` and it retries after
 * a backoff, for as long as it takes (the date is never completed without the check).
 * Pure: both steps are supplied by src/settlement/settlement-steps.ts with .provide(),
 * and both are idempotent (a restored actor runs its step again).
 */
export const settlementMachine = settlementSetup.createMachine({
  id: 'settlement',
  context: ({ input }) => ({ date: input.date, retry: input.retry, failures: 0, waitMs: 0, lastError: null }),
  initial: 'requested',
  states: {
    requested: {
      tags: ['requested'],
      on: { run: 'processing' },
    },
    processing: {
      tags: ['processing'],
      initial: 'computing',
      states: {
        computing: {
          invoke: {
            id: 'computeFigures',
            src: 'computeFigures',
            input: ({ context }) => ({ date: context.date }),
            onDone: 'checking',
            onError: { target: '#settlement.failed', actions: 'recordFailure' },
          },
        },
        checking: {
          invoke: {
            id: 'crossCheck',
            src: 'crossCheck',
            input: ({ context }) => ({ date: context.date }),
            onDone: { target: '#settlement.completed', actions: 'recordSuccess' },
            onError: { target: '#settlement.failed', actions: 'recordFailure' },
          },
        },
      },
    },
    failed: {
      tags: ['failed', WAITING],
      on: { 'timer.due': 'processing', run: 'processing' },
    },
    completed: {
      tags: ['completed', RESTING],
      on: { run: 'processing' },
    },
  },
});

export type SettlementMachine = typeof settlementMachine;

export function settlementStatusOf(snapshot: { hasTag(tag: string): boolean }): SettlementStatus {
  const status = SETTLEMENT_STATUSES.find((s) => snapshot.hasTag(s));
  if (!status) throw new Error('settlement state carries no status tag');
  return status;
}
