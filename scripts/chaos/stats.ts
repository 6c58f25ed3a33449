/** What a client of the service can see going wrong, beside the invariant checker's violations. */
export type MismatchKind =
  | 'purchase_not_accepted'
  | 'replay_mismatch'
  | 'reuse_not_refused'
  | 'acknowledged_payment_lost'
  | 'unacknowledged_payment'
  | 'cancel_not_applied';

export interface Mismatch {
  kind: MismatchKind;
  key?: string;
  paymentId?: string;
  message: string;
}

export interface CheckCounts {
  planned: number;
  ok: number;
  mismatched: number;
}

/** The run's counters: written by the load and the killer, read by the progress display and the report. */
export interface RunStats {
  purchases: { planned: number; accepted: number; notAccepted: number };
  replays: CheckCounts;
  reuses: CheckCounts;
  cancels: {
    /** Purchases picked for a cancel once they complete (about a tenth). */
    planned: number;
    /** Picked, but the payment ended in another status (by status; `processing` = not settled in time). */
    skipped: Record<string, number>;
    sent: number;
    accepted: number;
    /** Acceptable refusals (409 invalid_state, 422 amount_exceeds_cancellable), by code. */
    refused: Record<string, number>;
    /** Anything else (5xx, 404/405 while the endpoint is missing, no answer), by status and code. */
    errors: Record<string, number>;
  };
  http: {
    /** Requests sent again after a network failure (a killed service) or a timeout. */
    networkRetries: number;
    /** Requests sent again after a 503 payment_busy (another process held the payment). */
    busyRetries: number;
    /** 5xx answers by "METHOD route status". */
    serverErrors: Record<string, number>;
  };
  kills: {
    done: number;
    atMs: number[];
    /** By INSTANCE_ID. */
    byInstance: Record<string, number>;
    /** INSTANCE_IDs of the processes killed and not restarted. */
    forGood: string[];
  };
  mismatches: Mismatch[];
}

export function createRunStats(): RunStats {
  const checks = (): CheckCounts => ({ planned: 0, ok: 0, mismatched: 0 });
  return {
    purchases: { planned: 0, accepted: 0, notAccepted: 0 },
    replays: checks(),
    reuses: checks(),
    cancels: { planned: 0, skipped: {}, sent: 0, accepted: 0, refused: {}, errors: {} },
    http: { networkRetries: 0, busyRetries: 0, serverErrors: {} },
    kills: { done: 0, atMs: [], byInstance: {}, forGood: [] },
    mismatches: [],
  };
}

export function increment(counts: Record<string, number>, key: string): void {
  counts[key] = (counts[key] ?? 0) + 1;
}

export function cancelsSettled(cancels: RunStats['cancels']): number {
  const sum = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);
  return sum(cancels.skipped) + cancels.accepted + sum(cancels.refused) + sum(cancels.errors);
}
