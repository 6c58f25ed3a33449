import type { EventObject, SnapshotFrom } from 'xstate';
import type { SnapshotWrite, Transition } from '../../db/payments-repo.ts';
import { PAYMENT_MACHINE_VERSION, type PaymentContext, type PaymentEmitted, type PaymentMachine } from '../../machines/payment.machine.ts';
import { publicStatusOf, RESTING, statePath, WAITING, type PublicStatus } from '../../machines/payment-status.ts';
import { transitionReason } from './transition-reason.ts';

// What the host writes for a payment's snapshot: built here from the snapshot and what the
// host knew before it, merged while a write waits for its group-commit job.

type PaymentSnapshot = SnapshotFrom<PaymentMachine>;

/**
 * A logged transition with what its side-effect rows need, taken when it happened: when
 * several transitions commit in one write, each keeps its own context (the cancellation
 * it finished, the step that failed), not the newest one.
 */
export interface TransitionRecord extends Transition {
  /** The public status before and after: a change is a payment event (outbox). */
  fromStatus: PublicStatus;
  status: PublicStatus;
  context: PaymentContext;
  /** What the machine emitted in this transition: alerts, and money the PG moved. */
  emitted: PaymentEmitted[];
}

/** What the host writes: the snapshot and the transitions since the last write. */
export interface HostWrite extends SnapshotWrite {
  status: PublicStatus;
  transitions: TransitionRecord[];
}

/** A new snapshot of a payment, and what was written (or queued) before it. */
export interface SnapshotChange {
  paymentId: string;
  /** State path and public status last queued for writing: the transition is logged from them. */
  from: string;
  fromStatus: PublicStatus;
  /** What the machine emitted since the last snapshot. */
  emitted: PaymentEmitted[];
  event: EventObject;
  snapshot: PaymentSnapshot;
  /** The actor's persisted snapshot, serialised. */
  persisted: string;
  now: number;
}

/** The write a new snapshot makes: the row's new values and, if anything happened worth logging, its transition. */
export function buildWrite({ paymentId, from, fromStatus, emitted, event, snapshot, persisted, now }: SnapshotChange): HostWrite {
  const path = statePath(snapshot.value);
  const moved = path !== from;
  const status = publicStatusOf(snapshot);
  // Operator actions are logged even when the state stays (who, when, why).
  const operator = event.type.startsWith('admin.') ? operatorDetail(event) : undefined;
  const waiting = snapshot.hasTag(WAITING);
  return {
    paymentId,
    machineVersion: PAYMENT_MACHINE_VERSION,
    state: path,
    status,
    failureCode: snapshot.context.failureCode,
    cancelledAmount: snapshot.context.cancelledAmount,
    snapshot: persisted,
    // A wait's deadline is fixed when the wait begins (rule 5: it lives in due_at).
    dueAt: moved ? (waiting ? now + snapshot.context.waitMs : null) : undefined,
    active: !waiting && !snapshot.hasTag(RESTING),
    updatedAt: now,
    transitions:
      moved || operator || emitted.length > 0
        ? [
            {
              type: event.type,
              reason: transitionReason(event),
              from,
              to: path,
              at: now,
              detail: operator,
              fromStatus,
              status,
              context: snapshot.context,
              emitted,
            },
          ]
        : [],
  };
}

function operatorDetail(event: EventObject): Record<string, unknown> {
  const { actor, reason, failedEventId, outcome } = event as { actor?: string; reason?: string; failedEventId?: string; outcome?: string };
  return { actor, reason, failedEventId, outcome };
}

/**
 * The write brought the payment into a resting state: it moved, and ended resting. A
 * resting payment woken and put back, or an operator's note on it, is no arrival.
 */
export function arrivedAtRest(write: HostWrite, latest: PaymentSnapshot): boolean {
  return latest.hasTag(RESTING) && write.transitions.some((t) => t.from !== t.to);
}

export function mergeWrites(older: HostWrite, newer: HostWrite): HostWrite {
  return {
    ...newer,
    dueAt: newer.dueAt === undefined ? older.dueAt : newer.dueAt,
    transitions: [...older.transitions, ...newer.transitions],
  };
}
