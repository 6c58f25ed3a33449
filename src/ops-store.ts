import { createStore } from '@xstate/store';

/**
 * The process's live operational figures, read by /metrics and the operator view.
 * Payment lifecycles live in the payment machine; this only counts.
 */
export function createOpsStore() {
  return createStore({
    context: {
      actorsInMemory: 0,
      /** Snapshot writes the database refused (lost lease, I/O): each one evicted its actor. */
      snapshotWriteFailures: 0,
      pgConsecutiveFailures: 0,
      pgLastOkAt: null as number | null,
      pgLastFailureAt: null as number | null,
    },
    on: {
      actorStarted: (context) => ({ ...context, actorsInMemory: context.actorsInMemory + 1 }),
      actorStopped: (context) => ({ ...context, actorsInMemory: context.actorsInMemory - 1 }),
      snapshotWriteFailed: (context) => ({ ...context, snapshotWriteFailures: context.snapshotWriteFailures + 1 }),
      pgAnswered: (context, event: { at: number }) => ({ ...context, pgConsecutiveFailures: 0, pgLastOkAt: event.at }),
      pgUnreachable: (context, event: { at: number }) => ({
        ...context,
        pgConsecutiveFailures: context.pgConsecutiveFailures + 1,
        pgLastFailureAt: event.at,
      }),
    },
  });
}

export type OpsStore = ReturnType<typeof createOpsStore>;
