import { statePath } from '../../machines/payment-status.ts';
import type { Violation } from './check-invariants.ts';

/** One row of a payment's transition log. */
export interface LoggedTransition {
  seq: number;
  fromState: string | null;
  toState: string;
}

/** What the audit reads of the payment row. */
export interface AuditedPayment {
  id: string;
  state: string;
  /** The `value` of the stored snapshot, as JSON text; null when it has none. */
  snapshotValue: string | null;
}

/**
 * The lease audit: the stored history shows that one runner at a time drove the payment.
 * The host logs each transition from the state it last wrote (or read with the lease) and
 * writes the row's state and snapshot with it, under the lease. So the log is numbered
 * 1..n, starts from nothing (the creation), each row leaves the state the one before
 * arrived at, and the row stands where the last one arrived. Two processes running the
 * same payment at once would fork that chain or lose a step. Holds for snapshots upgraded
 * from an older machine too: the first write after an upgrade logs the move from the
 * stored state, and nothing is written until then.
 */
export function auditHistory(payment: AuditedPayment, log: LoggedTransition[], report: (violation: Violation) => void): void {
  const { id } = payment;
  let previous: LoggedTransition | undefined;
  for (const transition of log) {
    const due = (previous?.seq ?? 0) + 1;
    if (transition.seq !== due) {
      report({ kind: 'transition_seq_gap', paymentId: id, message: `payment ${id} has transition seq ${transition.seq} where seq ${due} was due` });
    }
    const expectedFrom = previous?.toState ?? null;
    if (transition.fromState !== expectedFrom) {
      const after = previous ? `seq ${previous.seq} arrived at ${previous.toState}` : 'the first one starts from nothing (the creation)';
      report({
        kind: 'transition_chain_broken',
        paymentId: id,
        message: `payment ${id}: transition seq ${transition.seq} leaves ${transition.fromState ?? 'nothing'} but ${after}`,
      });
    }
    previous = transition;
  }
  if (!previous) {
    report({ kind: 'state_disagrees_with_history', paymentId: id, message: `payment ${id} is in state ${payment.state} but has no transitions` });
    return;
  }
  const last = `its last transition, seq ${previous.seq}, arrived at ${previous.toState}`;
  if (payment.state !== previous.toState) {
    report({ kind: 'state_disagrees_with_history', paymentId: id, message: `payment ${id} is in state ${payment.state} but ${last}` });
  }
  const snapshotState = stateOfSnapshot(payment.snapshotValue);
  if (snapshotState !== previous.toState) {
    report({
      kind: 'state_disagrees_with_history',
      paymentId: id,
      message: `payment ${id}'s snapshot is in ${snapshotState ?? 'no readable state'} but ${last}`,
    });
  }
}

/** The state path a stored snapshot's value names; undefined when it names none. */
function stateOfSnapshot(valueJson: string | null): string | undefined {
  const value: unknown = valueJson === null ? null : JSON.parse(valueJson);
  if (typeof value === 'string') return value;
  if (typeof value !== 'object' || value === null || Object.keys(value).length !== 1) return undefined;
  return statePath(value);
}
