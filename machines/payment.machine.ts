import type { MachineAlert } from './alert.ts';
import { paymentSetup, refundTotal } from './payment-setup.ts';
import { RESTING, WAITING } from './payment-status.ts';

/** Bumped whenever a change makes older persisted snapshots unreadable by this machine. */
export const PAYMENT_MACHINE_VERSION = 2;

export interface RetryPolicy {
  /** First backoff ceiling; doubles per attempt up to capMs (full jitter below it). */
  baseMs: number;
  capMs: number;
  /**
   * Retries of a failing step before giving up: a reservation that failed for a reason
   * that may pass, a paid order's fulfilment, a stock release, a PG void.
   */
  stepRetries: number;
  /** How long the PG may not know a charge or show a refund before it is sent again. */
  notFoundGraceMs: number;
  /** Charge calls at most, the first one included. */
  maxCharges: number;
  /** An inquiry (charge or refund) still without a final answer after this long raises a warning. */
  inquiryAlertAfterMs: number;
  /** How long after it failed a payment whose charge went unanswered watches for that charge landing. */
  lateChargeWindowMs: number;
  /** PG lookups over that window, on a widening schedule (the last at its end). */
  lateChargeChecks: number;
}

export interface PaymentInput {
  paymentId: string;
  amount: number;
  retry: RetryPolicy;
}

export type PgPaymentStatus = 'READY' | 'PENDING' | 'PAID' | 'FAILED' | 'PARTIAL_CANCELLED' | 'CANCELLED';

/** The PG's own record of a payment (GET /payments/{id}): what the machine decides on. */
export type PgRecord =
  | {
      kind: 'found';
      status: PgPaymentStatus;
      pgTxId: string | null;
      /** When the PG took the money (ISO 8601), if it did. */
      paidAt: string | null;
      paidAmount: number;
      cancelledAmount: number;
      /** When the PG last gave money back (ISO 8601), if it did. */
      cancelledAt: string | null;
    }
  | { kind: 'not_found' }
  | { kind: 'unknown'; reason: string };

export type ReserveOutput = { kind: 'reserved' } | { kind: 'out_of_stock' };
export type ChargeOutput =
  | { kind: 'paid'; pgTxId: string; paidAt: string | null }
  | { kind: 'declined'; code: string }
  | { kind: 'unknown'; reason: string };
/** `cancelledAt`: when the PG gave the money back, as it said (null when it did not say). */
export type VoidOutput = { kind: 'voided'; cancelledAt: string | null } | { kind: 'refused'; code: string } | { kind: 'unknown'; reason: string };
export type RefundOutput = { kind: 'refunded'; cancelledAt: string | null } | { kind: 'refused'; code: string } | { kind: 'unknown'; reason: string };

/**
 * Which step a payment was in when it needed an operator; an operator's retry resumes it.
 * `returning_stock` is the stock release after a full refund, `releasing` any other.
 */
export type AttentionStep = 'voiding' | 'releasing' | 'returning_stock' | 'refunding' | 'voiding_late_charge';

/** A customer's refund request being carried out. */
export interface CancelRequest {
  id: string;
  seq: number;
  amount: number;
  reason: string;
  /** The client's Idempotency-Key and request fingerprint, for replays. */
  idempotencyKey: string;
  fingerprint: string;
}

export interface RefundInput {
  paymentId: string;
  cancellationId: string;
  amount: number;
  /** What the PG shows as cancelled once this refund landed: how an unanswered call is checked. */
  cancelledTotal: number;
  reason: string;
  /** Derived from payment id + cancellation number (rule 3). */
  pgIdempotencyKey: string;
}

export interface VoidInput {
  paymentId: string;
  /** What is given back: the whole charge, or what the PG still holds of a late one. */
  amount: number;
  /** What the PG shows as cancelled once the void landed: how an unanswered call is checked. */
  cancelledTotal: number;
  /** The state the void is made from: it must be committed before money moves. */
  fromState: 'compensating' | 'voidingLateCharge';
}

/** Who did what, for the transition log. */
export interface OperatorAction {
  actor: string;
  reason: string;
}

/** How an operator settled a payment that needed attention (API.md, "Resolving a payment by hand"). */
export type Resolution = 'cancelled' | 'kept';

export interface PaymentContext {
  paymentId: string;
  amount: number;
  retry: RetryPolicy;
  chargeAttempts: number;
  /** A charge call went unanswered: that charge may still land after the payment gave up. */
  chargeUnanswered: boolean;
  inquiryAttempts: number;
  /** Sum of the waits since the inquiry began: measures the alert delay. */
  inquiryWaitedMs: number;
  /** Sum of the waits since the last call was sent: measures the not-found grace. */
  sentWaitedMs: number;
  /** The current inquiry already raised its overdue warning. */
  inquiryAlerted: boolean;
  /** Failures of the current step so far. */
  stepAttempts: number;
  /** Length of the current wait; the host turns it into the due_at column on entry. */
  waitMs: number;
  pgTxId: string | null;
  /** Money given back so far (a void gives back everything). */
  cancelledAmount: number;
  failureCode: string | null;
  /** The money went back (void or full refund), so releasing ends `cancelled`, not `failed`. */
  chargeReturned: boolean;
  /** The latest refund request (kept after it ends, for the record). */
  cancel: CancelRequest | null;
  /** PG lookups the late-charge watch got an answer to. */
  lateChecks: number;
  /** What a late charge's void gives back: what the PG still held of it; null for the whole charge. */
  voidAmount: number | null;
  attentionStep: AttentionStep | null;
  /** What the last failure of that step said, for the operator. */
  attentionReason: string | null;
  /** The failure code before the payment needed an operator, restored by a retry. */
  failureCodeBeforeAttention: string | null;
}

export type PaymentEvent =
  | { type: 'timer.due' }
  /** The PG's own record of this payment, fetched after a webhook told us to look. */
  | { type: 'pg.status'; record: PgRecord }
  | ({ type: 'api.cancel' } & Omit<CancelRequest, 'seq'>)
  | ({ type: 'admin.retry'; failedEventId: string } & OperatorAction)
  | ({ type: 'admin.ignore'; failedEventId: string } & OperatorAction)
  | ({ type: 'admin.resolve'; outcome: Resolution } & OperatorAction);


/**
 * Money that moved at the PG, as the payment learned it: what daily settlement adds up.
 * `at`: when the PG took the money (a charge), or null for the moment of the transition.
 */
export interface MoneyMoved {
  type: 'money';
  kind: 'charge' | 'refund' | 'void';
  amount: number;
  at: number | null;
}

export type PaymentEmitted = MachineAlert | MoneyMoved;

/** A failed step waits and runs again while it may, then hands the payment to an operator. */
const retryOrAttention = (step: AttentionStep) =>
  [
    { guard: 'stepCanRetry', target: 'waiting', actions: 'countStepFailure' },
    { target: '#payment.requires_attention', actions: { type: 'needsAttention', params: { step } } },
  ] as const;

/** A PG void (the whole charge, or what the PG holds of a late one), retried, then handed to an operator; `voided` says where it goes next. */
const voidingStates = (fromState: VoidInput['fromState'], step: AttentionStep, voided: '#payment.releasing' | '#payment.cancelled') =>
  paymentSetup.createStateConfig({
    initial: 'voiding',
    states: {
      voiding: {
        invoke: {
          id: 'voidCharge',
          src: 'voidCharge',
          input: ({ context }: { context: PaymentContext }): VoidInput => ({
            paymentId: context.paymentId,
            amount: context.voidAmount ?? context.amount,
            cancelledTotal: context.amount,
            fromState,
          }),
          onDone: [
            { guard: 'voided', target: voided, actions: ['resetStep', 'recordVoid'] },
            { guard: 'pgRefused', target: '#payment.requires_attention', actions: { type: 'needsAttention', params: { step } } },
            ...retryOrAttention(step),
          ],
          onError: [...retryOrAttention(step)],
        },
      },
      waiting: { tags: [WAITING], on: { 'timer.due': 'voiding' } },
    },
  });

/** The stock goes back on sale, retried, then handed to an operator. */
const releasingStates = (step: 'releasing' | 'returning_stock') =>
  paymentSetup.createStateConfig({
    initial: 'releasingStock',
    states: {
      releasingStock: {
        invoke: {
          id: 'releaseStock',
          src: 'releaseStock',
          input: ({ context }: { context: PaymentContext }) => ({ paymentId: context.paymentId }),
          onDone: [
            { guard: 'chargeReturned', target: '#payment.cancelled', actions: 'resetStep' },
            { target: '#payment.failed', actions: 'resetStep' },
          ],
          onError: [...retryOrAttention(step)],
        },
      },
      waiting: { tags: [WAITING], on: { 'timer.due': 'releasingStock' } },
    },
  });

/** The PG's record settles a charge whose outcome was unknown: paid is fulfilled, failed is released. */
const chargeSettledByPg = [
  { guard: 'pgSaysPaid', target: '#payment.finalizing', actions: 'takePgTxId' },
  { guard: 'pgSaysFailed', target: '#payment.releasing', actions: { type: 'fail', params: { code: 'charge_failed' } } },
  {
    guard: 'pgSaysReturned',
    target: '#payment.releasing',
    actions: ['takePgTxId', 'recordVoid', { type: 'fail', params: { code: 'charge_returned' } }],
  },
] as const;

/** A PG record shows a charge that this payment is not keeping: it is voided. */
const lateChargeSeen = { guard: 'pgSaysPaid', target: '#payment.voidingLateCharge', actions: ['takePgTxId', 'noticeLateCharge'] } as const;
/** A charge that landed late and was already given back (by the PG or by hand): both moves of money are recorded. */
const lateChargeReturned = { guard: 'pgSaysReturned', target: '#payment.cancelled', actions: ['takePgTxId', 'recordVoid'] } as const;

/**
 * One payment, from stock reservation to a resting state. Pure: every side effect is a
 * promise actor stub below, supplied by src/payments/payment-actors.ts with .provide().
 * Every actor may run twice (XState re-runs an invoked promise when its snapshot is
 * restored), so each implementation is idempotent.
 */
export const paymentMachine = paymentSetup.createMachine({
  id: 'payment',
  context: ({ input }) => ({
    paymentId: input.paymentId,
    amount: input.amount,
    retry: input.retry,
    chargeAttempts: 0,
    chargeUnanswered: false,
    inquiryAttempts: 0,
    inquiryWaitedMs: 0,
    sentWaitedMs: 0,
    inquiryAlerted: false,
    stepAttempts: 0,
    waitMs: 0,
    pgTxId: null,
    cancelledAmount: 0,
    failureCode: null,
    chargeReturned: false,
    cancel: null,
    lateChecks: 0,
    voidAmount: null,
    attentionStep: null,
    attentionReason: null,
    failureCodeBeforeAttention: null,
  }),
  initial: 'reserving',
  states: {
    reserving: {
      tags: ['processing'],
      initial: 'reservingStock',
      states: {
        reservingStock: {
          invoke: {
            id: 'reserveStock',
            src: 'reserveStock',
            input: ({ context }) => ({ paymentId: context.paymentId }),
            onDone: [
              { guard: 'stockReserved', target: '#payment.charging', actions: 'resetStep' },
              { target: '#payment.rejected', actions: { type: 'fail', params: { code: 'out_of_stock' } } },
            ],
            // The reservation is one transaction: when it throws, nothing is held.
            onError: [
              { guard: 'transientErrorCanRetry', target: 'waiting', actions: 'countStepFailure' },
              { target: '#payment.rejected', actions: { type: 'fail', params: { code: 'reservation_failed' } } },
            ],
          },
        },
        waiting: { tags: [WAITING], on: { 'timer.due': 'reservingStock' } },
      },
    },

    charging: {
      tags: ['processing'],
      entry: 'countChargeAttempt',
      // The PG already reports the charge paid (webhook): no need to wait for our call's answer.
      on: { 'pg.status': { guard: 'pgSaysPaid', target: 'finalizing', actions: 'takePgTxId' } },
      initial: 'calling',
      states: {
        calling: {
          invoke: {
            id: 'chargePayment',
            src: 'chargePayment',
            input: ({ context }) => ({ paymentId: context.paymentId, attempt: context.chargeAttempts }),
            onDone: [
              { guard: 'chargePaid', target: '#payment.finalizing', actions: ['resetStep', 'takeChargePgTxId'] },
              { guard: 'chargeDeclined', target: '#payment.releasing', actions: ['resetStep', 'takeDeclineCode'] },
              // The call may have reached the PG: an unknown outcome is a state, not an error.
              { target: '#payment.inquiring', actions: ['resetStep', 'startInquiry', 'markChargeUnanswered'] },
            ],
            // The step throws only before the call (it could not mark the attempt): nothing was sent.
            onError: [
              { guard: 'transientErrorCanRetry', target: 'waiting', actions: 'countStepFailure' },
              { target: '#payment.inquiring', actions: ['resetStep', 'startInquiry'] },
            ],
          },
        },
        waiting: { tags: [WAITING], on: { 'timer.due': 'calling' } },
      },
    },

    inquiring: {
      tags: ['processing'],
      initial: 'checking',
      // A webhook's answer counts as much as our own inquiry's.
      on: { 'pg.status': [...chargeSettledByPg] },
      states: {
        checking: {
          invoke: {
            id: 'inquirePgStatus',
            src: 'inquirePgStatus',
            input: ({ context }) => ({ paymentId: context.paymentId }),
            onDone: [
              ...chargeSettledByPg,
              {
                guard: 'pgNeverGotChargeAndMayRetry',
                // The PG never saw the charge: charging again with the same payment id
                // is safe (the PG answers ALREADY_PAID to a second charge).
                target: '#payment.charging',
              },
              {
                guard: 'pgNeverGotCharge',
                target: '#payment.releasing',
                actions: { type: 'fail', params: { code: 'charge_not_received' } },
              },
              { target: 'waiting', actions: 'scheduleInquiry' },
            ],
            onError: { target: 'waiting', actions: 'scheduleInquiry' },
          },
        },
        waiting: {
          tags: [WAITING],
          on: { 'timer.due': 'checking' },
        },
      },
    },

    finalizing: {
      tags: ['processing'],
      initial: 'fulfilling',
      states: {
        fulfilling: {
          invoke: {
            id: 'fulfilOrder',
            src: 'fulfilOrder',
            input: ({ context }) => ({ paymentId: context.paymentId }),
            onDone: { target: '#payment.completed', actions: 'resetStep' },
            onError: [
              { guard: 'stepCanRetry', target: 'waiting', actions: 'countStepFailure' },
              // Paid but cannot fulfil: give the money back (double-fault defence).
              {
                target: '#payment.compensating',
                actions: ['resetStep', { type: 'fail', params: { code: 'fulfilment_failed' } }],
              },
            ],
          },
        },
        waiting: {
          tags: [WAITING],
          on: { 'timer.due': 'fulfilling' },
        },
      },
    },

    compensating: {
      tags: ['processing'],
      ...voidingStates('compensating', 'voiding', '#payment.releasing'),
    },

    releasing: {
      tags: ['processing'],
      ...releasingStates('releasing'),
    },

    completed: {
      tags: ['completed', RESTING],
      on: { 'api.cancel': { guard: 'cancellable', target: 'cancelling', actions: 'acceptCancel' } },
    },

    partially_cancelled: {
      tags: ['partially_cancelled', RESTING],
      on: { 'api.cancel': { guard: 'cancellable', target: 'cancelling', actions: 'acceptCancel' } },
    },

    cancelling: {
      tags: ['cancel_requested'],
      initial: 'refunding',
      states: {
        refunding: {
          invoke: {
            id: 'refundPayment',
            src: 'refundPayment',
            input: ({ context }) => {
              const cancel = context.cancel as CancelRequest;
              return {
                paymentId: context.paymentId,
                cancellationId: cancel.id,
                amount: cancel.amount,
                cancelledTotal: refundTotal(context),
                reason: cancel.reason,
                pgIdempotencyKey: `${context.paymentId}:cancel:${cancel.seq}`,
              };
            },
            onDone: [
              // The last refund brings the stock back; an earlier one leaves money on the payment.
              { guard: 'lastRefundLanded', target: 'returningStock', actions: 'recordRefund' },
              { guard: 'refunded', target: '#payment.partially_cancelled', actions: 'recordRefund' },
              // A permanent refusal will not change by asking again.
              { guard: 'pgRefused', target: '#payment.requires_attention', actions: { type: 'needsAttention', params: { step: 'refunding' } } },
              // No answer: the refund may have landed. Ask the PG until it says (rule 6).
              { target: 'checking', actions: 'restartGrace' },
            ],
            onError: { target: 'checking', actions: 'restartGrace' },
          },
        },
        /** An unanswered refund: the PG's record says whether it landed. */
        checking: {
          invoke: {
            id: 'inquirePgStatus',
            src: 'inquirePgStatus',
            input: ({ context }) => ({ paymentId: context.paymentId }),
            onDone: [
              { guard: 'pgShowsLastRefund', target: 'returningStock', actions: 'recordRefund' },
              { guard: 'pgShowsRefund', target: '#payment.partially_cancelled', actions: 'recordRefund' },
              // The PG never got it: sent again under the same key (the step asks the PG first).
              { guard: 'pgNeverGotRefund', target: 'refunding' },
              { target: 'waiting', actions: 'scheduleInquiry' },
            ],
            onError: { target: 'waiting', actions: 'scheduleInquiry' },
          },
        },
        waiting: {
          tags: [WAITING],
          on: { 'timer.due': 'checking' },
        },
        /** Refunded down to zero: the goods go back on sale; the status stays cancel_requested until then. */
        returningStock: releasingStates('returning_stock'),
      },
    },

    rejected: { tags: ['rejected', RESTING], type: 'final' },
    cancelled: { tags: ['cancelled', RESTING], type: 'final' },

    /**
     * Failed for good; the stock is back. A charge whose call went unanswered may still
     * land (held in a queue at the PG or a proxy), so such a payment watches for it over
     * LATE_CHARGE_WINDOW_MS; any PG report of a charge, then or later, is voided.
     */
    failed: {
      tags: ['failed'],
      initial: 'ended',
      states: {
        ended: {
          always: [{ guard: 'chargeMayLandLate', target: 'watching', actions: 'scheduleLateCheck' }, { target: 'closed' }],
        },
        watching: {
          tags: [WAITING],
          on: { 'timer.due': 'checking', 'pg.status': [lateChargeSeen, lateChargeReturned] },
        },
        checking: {
          on: { 'pg.status': [lateChargeSeen, lateChargeReturned] },
          invoke: {
            id: 'inquirePgStatus',
            src: 'inquirePgStatus',
            input: ({ context }) => ({ paymentId: context.paymentId }),
            onDone: [
              lateChargeSeen,
              lateChargeReturned,
              // No answer is no check: ask again soon, the scheduled checks stay as they were.
              { guard: 'pgGaveNoAnswer', target: 'watching', actions: 'countStepFailure' },
              { guard: 'laterLateCheck', target: 'watching', actions: ['countLateCheck', 'scheduleLateCheck'] },
              { target: 'closed', actions: ['countLateCheck', 'closeLateWatch'] },
            ],
            onError: { target: 'watching', actions: 'countStepFailure' },
          },
        },
        closed: { tags: [RESTING], on: { 'pg.status': [lateChargeSeen, lateChargeReturned] } },
      },
    },

    /** A charge landed after the payment failed: it is voided, and the payment ends cancelled. */
    voidingLateCharge: {
      tags: ['cancel_requested'],
      ...voidingStates('voidingLateCharge', 'voiding_late_charge', '#payment.cancelled'),
    },

    /**
     * A compensation failed after its retries; the stock stays reserved until an
     * operator acts. Dead letters are never retried automatically: only admin.retry,
     * or the PG's own record showing that the money went back after all.
     */
    requires_attention: {
      tags: ['requires_attention', RESTING],
      on: {
        'admin.retry': [
          {
            guard: 'attentionAtVoid',
            target: 'compensating',
            actions: 'resumeAfterAttention',
          },
          {
            guard: 'attentionAtLateVoid',
            target: 'voidingLateCharge',
            actions: 'resumeAfterAttention',
          },
          {
            guard: 'attentionAtRelease',
            target: 'releasing',
            actions: 'resumeAfterAttention',
          },
          {
            guard: 'attentionAtStockReturn',
            target: '#payment.cancelling.returningStock',
            actions: 'resumeAfterAttention',
          },
          {
            guard: 'attentionAtRefund',
            target: 'cancelling',
            actions: ['resumeAfterAttention', 'startInquiry'],
          },
        ],
        // The operator settles it outside Paystate; the payment keeps its state and the log says who and why.
        'admin.ignore': { actions: 'noteIgnored' },
        'admin.resolve': [
          // A stuck stock release: the money was settled before it (never taken, or given back
          // through the PG), so the release ends the payment as it would have ended anyway.
          {
            guard: 'resolvedCancelledAtRelease',
            target: 'releasing',
            actions: 'resumeAfterAttention',
          },
          {
            guard: 'resolvedCancelledAtStockReturn',
            target: '#payment.cancelling.returningStock',
            actions: 'resumeAfterAttention',
          },
          { guard: 'resolvedCancelled', target: 'releasing', actions: 'resolveAsCancelled' },
          {
            guard: 'keptBeforeFulfilment',
            // The order was never handed over: fulfilment runs (again) before it counts as completed.
            target: 'finalizing',
            actions: 'keepCharge',
          },
          { guard: 'keptAfterPartialRefund', target: 'partially_cancelled', actions: 'keepCharge' },
          { guard: 'canKeepCharge', target: 'completed', actions: 'keepCharge' },
        ],
        'pg.status': [
          {
            guard: 'pgShowsAwaitedLastRefund',
            target: '#payment.cancelling.returningStock',
            actions: ['resumeAfterAttention', 'recordRefund'],
          },
          {
            guard: 'pgShowsAwaitedRefund',
            target: 'partially_cancelled',
            actions: ['resumeAfterAttention', 'recordRefund'],
          },
          {
            guard: 'pgShowsAwaitedVoid',
            target: 'releasing',
            actions: ['resumeAfterAttention', 'recordVoid'],
          },
          {
            guard: 'pgShowsAwaitedLateVoid',
            target: 'cancelled',
            actions: ['resumeAfterAttention', 'recordVoid'],
          },
        ],
      },
    },
  },
});

export type PaymentMachine = typeof paymentMachine;
