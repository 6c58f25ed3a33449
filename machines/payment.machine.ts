import { assign, fromPromise, setup } from 'xstate';
import { backoffMs } from './backoff.ts';
import { RESTING, WAITING } from './payment-status.ts';

/** Bumped whenever a change makes older persisted snapshots unreadable by this machine. */
export const PAYMENT_MACHINE_VERSION = 1;

export interface RetryPolicy {
  /** First backoff ceiling; doubles per attempt up to capMs (full jitter below it). */
  baseMs: number;
  capMs: number;
  /** Retries of a failing step (fulfilment, stock release, PG void) before giving up. */
  stepRetries: number;
  /** How long the PG may not know a charge before the machine charges again. */
  notFoundGraceMs: number;
  /** Charge calls at most, the first one included. */
  maxCharges: number;
  /** Immediate retries of a PG cancel (refund) that got no answer. */
  refundRetries: number;
  /** The durable retry queue: one more refund attempt this long after the retries. */
  refundQueueDelayMs: number;
}

export interface PaymentInput {
  paymentId: string;
  amount: number;
  retry: RetryPolicy;
}

export type ReserveOutput = { kind: 'reserved' } | { kind: 'out_of_stock' };
export type ChargeOutput =
  | { kind: 'paid'; pgTxId: string }
  | { kind: 'declined'; code: string }
  | { kind: 'unknown'; reason: string };
export type InquiryOutput =
  | { kind: 'paid'; pgTxId: string | null }
  | { kind: 'failed' }
  | { kind: 'pending' }
  | { kind: 'not_found' }
  | { kind: 'unknown'; reason: string };
export type VoidOutput = { kind: 'voided' } | { kind: 'refused'; code: string } | { kind: 'unknown'; reason: string };
export type RefundOutput = { kind: 'refunded' } | { kind: 'refused'; code: string } | { kind: 'unknown'; reason: string };

/** Which step a payment was in when it needed an operator; an operator's retry resumes it. */
export type AttentionStep = 'voiding' | 'releasing' | 'refunding';

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

/** Who did what, for the transition log. */
export interface OperatorAction {
  failedEventId: string;
  actor: string;
  reason: string;
}

export interface PaymentContext {
  paymentId: string;
  amount: number;
  retry: RetryPolicy;
  chargeAttempts: number;
  inquiryAttempts: number;
  /** Sum of the inquiry waits since the last charge: measures the not-found grace. */
  inquiryWaitedMs: number;
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
  /** Whether the current refund already used its one durable-queue retry. */
  refundQueued: boolean;
  attentionStep: AttentionStep | null;
  /** What the last failure of that step said, for the operator. */
  attentionReason: string | null;
  /** The failure code before the payment needed an operator, restored by a retry. */
  failureCodeBeforeAttention: string | null;
}

export type PaymentEvent =
  | { type: 'timer.due' }
  /** The PG's own answer about this payment, fetched after a webhook told us to look. */
  | { type: 'pg.status'; result: InquiryOutput }
  | ({ type: 'api.cancel' } & Omit<CancelRequest, 'seq'>)
  | ({ type: 'admin.retry' } & OperatorAction)
  | ({ type: 'admin.ignore' } & OperatorAction);

/** A short account of why a step's last attempt failed: a PG refusal, no answer, or an error. */
function describeFailure(event: object): string {
  const { output, error } = event as { output?: VoidOutput; error?: unknown };
  if (output?.kind === 'refused') return `pg_refused:${output.code}`;
  if (output?.kind === 'unknown') return `pg_no_answer:${output.reason}`;
  return error instanceof Error ? error.message : String(error ?? 'unknown');
}

const notProvided = (): Promise<never> => Promise.reject(new Error('actor not provided'));

/** A failed step waits and runs again while it may, then hands the payment to an operator. */
const retryOrAttention = (step: AttentionStep) =>
  [
    { guard: 'stepCanRetry', target: 'waiting', actions: 'countStepFailure' },
    { target: '#payment.requires_attention', actions: { type: 'needsAttention', params: { step } } },
  ] as const;

/** An unanswered refund: two quick retries, one from the durable retry queue, then an operator. */
const refundRetryOrAttention = [
  { guard: 'refundCanRetry', target: 'retrying', actions: 'countStepFailure' },
  { guard: 'refundNotQueued', target: 'queued', actions: 'queueRefund' },
  { target: '#payment.requires_attention', actions: { type: 'needsAttention', params: { step: 'refunding' } } },
] as const;

/**
 * One payment, from stock reservation to a resting state. Pure: every side effect is a
 * promise actor stub below, supplied by src/payments/payment-actors.ts with .provide().
 * Every actor may run twice (XState re-runs an invoked promise when its snapshot is
 * restored), so each implementation is idempotent.
 */
export const paymentMachine = setup({
  types: {
    context: {} as PaymentContext,
    events: {} as PaymentEvent,
    input: {} as PaymentInput,
  },
  actors: {
    reserveStock: fromPromise<ReserveOutput, { paymentId: string }>(notProvided),
    chargePayment: fromPromise<ChargeOutput, { paymentId: string; attempt: number }>(notProvided),
    inquirePgStatus: fromPromise<InquiryOutput, { paymentId: string }>(notProvided),
    fulfilOrder: fromPromise<void, { paymentId: string }>(notProvided),
    voidCharge: fromPromise<VoidOutput, { paymentId: string; amount: number }>(notProvided),
    releaseStock: fromPromise<void, { paymentId: string }>(notProvided),
    refundPayment: fromPromise<RefundOutput, RefundInput>(notProvided),
  },
  guards: {
    stepCanRetry: ({ context }) => context.stepAttempts < context.retry.stepRetries,
    refundCanRetry: ({ context }) => context.stepAttempts < context.retry.refundRetries,
    refundNotQueued: ({ context }) => !context.refundQueued,
    chargeReturned: ({ context }) => context.chargeReturned,
    cancellable: ({ context, event }) =>
      event.type === 'api.cancel' &&
      Number.isSafeInteger(event.amount) &&
      event.amount > 0 &&
      event.amount <= context.amount - context.cancelledAmount,
    pgSaysPaid: ({ event }) => event.type === 'pg.status' && event.result.kind === 'paid',
    pgSaysFailed: ({ event }) => event.type === 'pg.status' && event.result.kind === 'failed',
    attentionAt: ({ context }, params: { step: AttentionStep }) => context.attentionStep === params.step,
  },
  actions: {
    countStepFailure: assign(({ context }) => ({
      stepAttempts: context.stepAttempts + 1,
      waitMs: backoffMs(context.stepAttempts, context.paymentId, context.retry.baseMs, context.retry.capMs),
    })),
    resetStep: assign({ stepAttempts: 0, waitMs: 0 }),
    scheduleInquiry: assign(({ context }) => {
      const waitMs = backoffMs(context.inquiryAttempts, context.paymentId, context.retry.baseMs, context.retry.capMs);
      return {
        inquiryAttempts: context.inquiryAttempts + 1,
        inquiryWaitedMs: context.inquiryWaitedMs + waitMs,
        waitMs,
      };
    }),
    needsAttention: assign(({ context, event }, params: { step: AttentionStep }) => ({
      attentionStep: params.step,
      attentionReason: describeFailure(event),
      failureCodeBeforeAttention: context.failureCode,
      failureCode: 'compensation_failed',
      waitMs: 0,
    })),
    acceptCancel: assign(({ context, event }) => {
      if (event.type !== 'api.cancel') return {};
      const { type: _type, ...request } = event;
      const seq = (context.cancel?.seq ?? 0) + 1;
      return { cancel: { ...request, seq }, stepAttempts: 0, refundQueued: false, waitMs: 0 };
    }),
    recordRefund: assign(({ context }) => {
      const cancelledAmount = context.cancelledAmount + (context.cancel?.amount ?? 0);
      return { cancelledAmount, chargeReturned: cancelledAmount === context.amount, stepAttempts: 0, waitMs: 0 };
    }),
    queueRefund: assign(({ context }) => ({ refundQueued: true, waitMs: context.retry.refundQueueDelayMs })),
    resumeAfterAttention: assign(({ context }) => ({
      attentionStep: null,
      failureCode: context.failureCodeBeforeAttention,
      stepAttempts: 0,
      refundQueued: false,
      waitMs: 0,
    })),
    takePgTxId: assign(({ context, event }) => ({
      pgTxId: event.type === 'pg.status' && event.result.kind === 'paid' ? event.result.pgTxId : context.pgTxId,
    })),
  },
}).createMachine({
  id: 'payment',
  context: ({ input }) => ({
    paymentId: input.paymentId,
    amount: input.amount,
    retry: input.retry,
    chargeAttempts: 0,
    inquiryAttempts: 0,
    inquiryWaitedMs: 0,
    stepAttempts: 0,
    waitMs: 0,
    pgTxId: null,
    cancelledAmount: 0,
    failureCode: null,
    chargeReturned: false,
    cancel: null,
    refundQueued: false,
    attentionStep: null,
    attentionReason: null,
    failureCodeBeforeAttention: null,
  }),
  initial: 'reserving',
  states: {
    reserving: {
      tags: ['processing'],
      invoke: {
        id: 'reserveStock',
        src: 'reserveStock',
        input: ({ context }) => ({ paymentId: context.paymentId }),
        onDone: [
          { guard: ({ event }) => event.output.kind === 'reserved', target: 'charging' },
          { target: 'rejected', actions: assign({ failureCode: 'out_of_stock' }) },
        ],
        // The reservation is one transaction: when it throws, nothing is held.
        onError: { target: 'rejected', actions: assign({ failureCode: 'reservation_failed' }) },
      },
    },

    charging: {
      tags: ['processing'],
      entry: assign(({ context }) => ({ chargeAttempts: context.chargeAttempts + 1 })),
      // The PG already reports the charge paid (webhook): no need to wait for our call's answer.
      on: { 'pg.status': { guard: 'pgSaysPaid', target: 'finalizing', actions: 'takePgTxId' } },
      invoke: {
        id: 'chargePayment',
        src: 'chargePayment',
        input: ({ context }) => ({ paymentId: context.paymentId, attempt: context.chargeAttempts }),
        onDone: [
          {
            guard: ({ event }) => event.output.kind === 'paid',
            target: 'finalizing',
            actions: assign({ pgTxId: ({ event }) => (event.output.kind === 'paid' ? event.output.pgTxId : null) }),
          },
          {
            guard: ({ event }) => event.output.kind === 'declined',
            target: 'releasing',
            actions: assign({ failureCode: ({ event }) => (event.output.kind === 'declined' ? event.output.code : null) }),
          },
          { target: 'inquiring', actions: assign({ inquiryAttempts: 0, inquiryWaitedMs: 0 }) },
        ],
        // The call may have reached the PG: an unknown outcome is a state, not an error.
        onError: { target: 'inquiring', actions: assign({ inquiryAttempts: 0, inquiryWaitedMs: 0 }) },
      },
    },

    inquiring: {
      tags: ['processing'],
      initial: 'checking',
      on: {
        'pg.status': [
          { guard: 'pgSaysPaid', target: 'finalizing', actions: 'takePgTxId' },
          { guard: 'pgSaysFailed', target: 'releasing', actions: assign({ failureCode: 'charge_failed' }) },
        ],
      },
      states: {
        checking: {
          invoke: {
            id: 'inquirePgStatus',
            src: 'inquirePgStatus',
            input: ({ context }) => ({ paymentId: context.paymentId }),
            onDone: [
              {
                guard: ({ event }) => event.output.kind === 'paid',
                target: '#payment.finalizing',
                actions: assign({
                  pgTxId: ({ event }) => (event.output.kind === 'paid' ? event.output.pgTxId : null),
                }),
              },
              {
                guard: ({ event }) => event.output.kind === 'failed',
                target: '#payment.releasing',
                actions: assign({ failureCode: 'charge_failed' }),
              },
              {
                guard: ({ event, context }) =>
                  event.output.kind === 'not_found' &&
                  context.inquiryWaitedMs >= context.retry.notFoundGraceMs &&
                  context.chargeAttempts < context.retry.maxCharges,
                // The PG never saw the charge: charging again with the same payment id
                // is safe (the PG answers ALREADY_PAID to a second charge).
                target: '#payment.charging',
              },
              {
                guard: ({ event, context }) =>
                  event.output.kind === 'not_found' && context.inquiryWaitedMs >= context.retry.notFoundGraceMs,
                target: '#payment.releasing',
                actions: assign({ failureCode: 'charge_not_received' }),
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
                actions: ['resetStep', assign({ failureCode: 'fulfilment_failed' })],
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
      initial: 'voiding',
      states: {
        voiding: {
          invoke: {
            id: 'voidCharge',
            src: 'voidCharge',
            input: ({ context }) => ({ paymentId: context.paymentId, amount: context.amount }),
            onDone: [
              {
                guard: ({ event }) => event.output.kind === 'voided',
                target: '#payment.releasing',
                actions: ['resetStep', assign(({ context }) => ({ chargeReturned: true, cancelledAmount: context.amount }))],
              },
              {
                guard: ({ event }) => event.output.kind === 'refused',
                target: '#payment.requires_attention',
                actions: { type: 'needsAttention', params: { step: 'voiding' } },
              },
              ...retryOrAttention('voiding'),
            ],
            onError: [...retryOrAttention('voiding')],
          },
        },
        waiting: {
          tags: [WAITING],
          on: { 'timer.due': 'voiding' },
        },
      },
    },

    releasing: {
      tags: ['processing'],
      initial: 'releasingStock',
      states: {
        releasingStock: {
          invoke: {
            id: 'releaseStock',
            src: 'releaseStock',
            input: ({ context }) => ({ paymentId: context.paymentId }),
            onDone: [
              { guard: 'chargeReturned', target: '#payment.cancelled', actions: 'resetStep' },
              { target: '#payment.failed', actions: 'resetStep' },
            ],
            onError: [...retryOrAttention('releasing')],
          },
        },
        waiting: {
          tags: [WAITING],
          on: { 'timer.due': 'releasingStock' },
        },
      },
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
                cancelledTotal: context.cancelledAmount + cancel.amount,
                reason: cancel.reason,
                pgIdempotencyKey: `${context.paymentId}:cancel:${cancel.seq}`,
              };
            },
            onDone: [
              {
                guard: ({ event, context }) =>
                  event.output.kind === 'refunded' && context.cancelledAmount + (context.cancel?.amount ?? 0) === context.amount,
                // Nothing left on the payment: the goods go back on sale.
                target: '#payment.releasing',
                actions: 'recordRefund',
              },
              { guard: ({ event }) => event.output.kind === 'refunded', target: '#payment.partially_cancelled', actions: 'recordRefund' },
              // A permanent refusal will not change by asking again.
              {
                guard: ({ event }) => event.output.kind === 'refused',
                target: '#payment.requires_attention',
                actions: { type: 'needsAttention', params: { step: 'refunding' } },
              },
              ...refundRetryOrAttention,
            ],
            onError: [...refundRetryOrAttention],
          },
        },
        retrying: {
          tags: [WAITING],
          on: { 'timer.due': 'refunding' },
        },
        /** The durable retry queue: one last attempt after a longer delay. */
        queued: {
          tags: [WAITING],
          on: { 'timer.due': 'refunding' },
        },
      },
    },

    rejected: { tags: ['rejected', RESTING], type: 'final' },
    failed: { tags: ['failed', RESTING], type: 'final' },
    cancelled: { tags: ['cancelled', RESTING], type: 'final' },

    /**
     * A compensation failed after its retries; the stock stays reserved until an
     * operator acts. Dead letters are never retried automatically: only admin.retry.
     */
    requires_attention: {
      tags: ['requires_attention', RESTING],
      on: {
        'admin.retry': [
          {
            guard: { type: 'attentionAt', params: { step: 'voiding' } },
            target: 'compensating',
            actions: 'resumeAfterAttention',
          },
          {
            guard: { type: 'attentionAt', params: { step: 'releasing' } },
            target: 'releasing',
            actions: 'resumeAfterAttention',
          },
          {
            guard: { type: 'attentionAt', params: { step: 'refunding' } },
            target: 'cancelling',
            actions: 'resumeAfterAttention',
          },
        ],
        // The operator settles it outside Paystate; the payment keeps its state and the log says who and why.
        'admin.ignore': { actions: assign({ attentionReason: ({ event }) => `ignored by ${event.actor}: ${event.reason}` }) },
      },
    },
  },
});

export type PaymentMachine = typeof paymentMachine;
