import { assign, enqueueActions, fromPromise, setup } from 'xstate';
import type { MachineAlert } from './alert.ts';
import { backoffMs } from './backoff.ts';
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

const epochOrNull = (time: string | null) => (time === null ? null : Date.parse(time));

/** The output or error of the settled step, or the record of a `pg.status` event. */
function settled(event: object): { output?: unknown; error?: unknown; record?: PgRecord } {
  return event as { output?: unknown; error?: unknown; record?: PgRecord };
}

function kindOf(event: object): string | undefined {
  return (settled(event).output as { kind?: string } | undefined)?.kind;
}

/** The PG's record, whether it came from an inquiry step or from a webhook. */
function pgRecordOf(event: object): PgRecord | undefined {
  const { record, output } = settled(event);
  return record ?? (output as PgRecord | undefined);
}

function pgStatusOf(event: object): PgPaymentStatus | undefined {
  const record = pgRecordOf(event);
  return record?.kind === 'found' ? record.status : undefined;
}

/** When the PG gave money back, from a void's or refund's answer or from its record; null when unsaid. */
function returnedAtOf(event: object): number | null {
  const output = settled(event).output as { cancelledAt?: string | null } | undefined;
  const record = pgRecordOf(event);
  return epochOrNull(output?.cancelledAt ?? (record?.kind === 'found' ? record.cancelledAt : null));
}

/** What the PG shows as given back, or undefined when it did not say. */
function pgCancelledOf(event: object): number | undefined {
  const record = pgRecordOf(event);
  return record?.kind === 'found' ? record.cancelledAmount : undefined;
}

/** A short account of why a step's last attempt failed: a PG refusal, no answer, or an error. */
function describeFailure(event: object): string {
  const { output, error } = settled(event) as { output?: VoidOutput; error?: unknown };
  if (output?.kind === 'refused') return `pg_refused:${output.code}`;
  if (output?.kind === 'unknown') return `pg_no_answer:${output.reason}`;
  return error instanceof Error ? error.message : String(error ?? 'unknown');
}

/** The refund in flight: what it asks and what the PG shows once it landed. */
function refundTotal(context: PaymentContext): number {
  return context.cancelledAmount + (context.cancel?.amount ?? 0);
}

/** Offset from the end of the payment of the late-charge check `n` (1-based): window / 2^(checks - n). */
function lateCheckOffset(retry: RetryPolicy, n: number): number {
  return n <= 0 ? 0 : Math.floor(retry.lateChargeWindowMs / 2 ** (retry.lateChargeChecks - n));
}

/** A guard's test, usable alone (by name) or in a named conjunction. */
type Check = (args: { context: PaymentContext; event: PaymentEvent }) => boolean;
const all =
  (...checks: Check[]): Check =>
  (args) =>
    checks.every((check) => check(args));
const attentionWasAt =
  (step: AttentionStep): Check =>
  ({ context }) =>
    context.attentionStep === step;

const refunded: Check = ({ event }) => kindOf(event) === 'refunded';
const pgHasNoCharge: Check = ({ event }) => pgRecordOf(event)?.kind === 'not_found';
const notFoundGracePassed: Check = ({ context }) => context.sentWaitedMs >= context.retry.notFoundGraceMs;
const chargesLeft: Check = ({ context }) => context.chargeAttempts < context.retry.maxCharges;
/** The PG shows the refund in flight (and every earlier one) as given back. */
const pgShowsRefund: Check = ({ context, event }) => (pgCancelledOf(event) ?? -1) >= refundTotal(context);
const pgShowsNoRefund: Check = ({ context, event }) => {
  const cancelled = pgCancelledOf(event);
  return cancelled !== undefined && cancelled < refundTotal(context);
};
const refundEmptiesPayment: Check = ({ context }) => refundTotal(context) === context.amount;
/** The PG shows the whole charge given back (a void an operator waits on landed after all). */
const pgShowsVoid: Check = ({ context, event }) => (pgCancelledOf(event) ?? -1) >= context.amount;
/** Keeping the charge makes sense only for a fulfilled order or one whose fulfilment can run again. */
const canKeepCharge: Check = ({ context, event }) =>
  event.type === 'admin.resolve' &&
  event.outcome === 'kept' &&
  (context.attentionStep === 'voiding' || context.attentionStep === 'refunding');
const resolvedCancelled: Check = ({ event }) => event.type === 'admin.resolve' && event.outcome === 'cancelled';
const partlyRefunded: Check = ({ context }) => context.cancelledAmount > 0;

const notProvided = (): Promise<never> => Promise.reject(new Error('actor not provided'));

const paymentSetup = setup({
  types: {
    context: {} as PaymentContext,
    events: {} as PaymentEvent,
    input: {} as PaymentInput,
    emitted: {} as PaymentEmitted,
  },
  actors: {
    reserveStock: fromPromise<ReserveOutput, { paymentId: string }>(notProvided),
    chargePayment: fromPromise<ChargeOutput, { paymentId: string; attempt: number }>(notProvided),
    inquirePgStatus: fromPromise<PgRecord, { paymentId: string }>(notProvided),
    fulfilOrder: fromPromise<void, { paymentId: string }>(notProvided),
    voidCharge: fromPromise<VoidOutput, VoidInput>(notProvided),
    releaseStock: fromPromise<void, { paymentId: string }>(notProvided),
    refundPayment: fromPromise<RefundOutput, RefundInput>(notProvided),
  },
  guards: {
    stockReserved: ({ event }) => kindOf(event) === 'reserved',
    /** Marked by the step (`retryable`): a busy database or a lost lease may pass; a refusal will not. */
    transientErrorCanRetry: ({ context, event }) =>
      (settled(event).error as { retryable?: unknown } | undefined)?.retryable === true &&
      context.stepAttempts < context.retry.stepRetries,
    stepCanRetry: ({ context }) => context.stepAttempts < context.retry.stepRetries,
    chargePaid: ({ event }) => kindOf(event) === 'paid',
    chargeDeclined: ({ event }) => kindOf(event) === 'declined',
    voided: ({ event }) => kindOf(event) === 'voided',
    refunded,
    pgRefused: ({ event }) => kindOf(event) === 'refused',
    chargeReturned: ({ context }) => context.chargeReturned,
    cancellable: ({ context, event }) =>
      event.type === 'api.cancel' &&
      Number.isSafeInteger(event.amount) &&
      event.amount > 0 &&
      event.amount <= context.amount - context.cancelledAmount,
    pgSaysPaid: ({ event }) => pgStatusOf(event) === 'PAID' || pgStatusOf(event) === 'PARTIAL_CANCELLED',
    pgSaysFailed: ({ event }) => pgStatusOf(event) === 'FAILED',
    /** Charged and already given back in full (cancelled at the PG): nothing is owed. */
    pgSaysReturned: ({ event }) => pgStatusOf(event) === 'CANCELLED',
    pgHasNoCharge,
    pgGaveNoAnswer: ({ event }) => pgRecordOf(event)?.kind === 'unknown',
    notFoundGracePassed,
    chargesLeft,
    pgShowsRefund,
    pgShowsNoRefund,
    refundEmptiesPayment,
    pgShowsVoid,
    chargeMayLandLate: ({ context }) => context.chargeUnanswered,
    /** The check being answered is not the last of the window. */
    laterLateCheck: ({ context }) => context.lateChecks + 1 < context.retry.lateChargeChecks,
    attentionAtVoid: attentionWasAt('voiding'),
    attentionAtLateVoid: attentionWasAt('voiding_late_charge'),
    attentionAtRelease: attentionWasAt('releasing'),
    attentionAtStockReturn: attentionWasAt('returning_stock'),
    attentionAtRefund: attentionWasAt('refunding'),
    canKeepCharge,
    resolvedCancelled,
    partlyRefunded,
    // Named conjunctions rather than and([...]): Stately's editor and toJSON() show a name.
    pgNeverGotChargeAndMayRetry: all(pgHasNoCharge, notFoundGracePassed, chargesLeft),
    pgNeverGotCharge: all(pgHasNoCharge, notFoundGracePassed),
    lastRefundLanded: all(refunded, refundEmptiesPayment),
    pgShowsLastRefund: all(pgShowsRefund, refundEmptiesPayment),
    pgNeverGotRefund: all(pgShowsNoRefund, notFoundGracePassed),
    resolvedCancelledAtRelease: all(resolvedCancelled, attentionWasAt('releasing')),
    resolvedCancelledAtStockReturn: all(resolvedCancelled, attentionWasAt('returning_stock')),
    keptBeforeFulfilment: all(canKeepCharge, attentionWasAt('voiding')),
    keptAfterPartialRefund: all(canKeepCharge, partlyRefunded),
    pgShowsAwaitedLastRefund: all(attentionWasAt('refunding'), pgShowsRefund, refundEmptiesPayment),
    pgShowsAwaitedRefund: all(attentionWasAt('refunding'), pgShowsRefund),
    pgShowsAwaitedVoid: all(attentionWasAt('voiding'), pgShowsVoid),
    pgShowsAwaitedLateVoid: all(attentionWasAt('voiding_late_charge'), pgShowsVoid),
  },
  actions: {
    fail: assign((_, params: { code: string }) => ({ failureCode: params.code })),
    countStepFailure: assign(({ context }) => ({
      stepAttempts: context.stepAttempts + 1,
      waitMs: backoffMs(context.stepAttempts, context.paymentId, context.retry.baseMs, context.retry.capMs),
    })),
    resetStep: assign({ stepAttempts: 0, waitMs: 0 }),
    countChargeAttempt: assign(({ context }) => ({ chargeAttempts: context.chargeAttempts + 1 })),
    takeChargePgTxId: enqueueActions(({ context, event, enqueue }) => {
      const output = settled(event).output as ChargeOutput;
      if (output.kind !== 'paid') return;
      enqueue.assign({ pgTxId: output.pgTxId });
      enqueue.emit({ type: 'money', kind: 'charge', amount: context.amount, at: epochOrNull(output.paidAt) });
    }),
    takeDeclineCode: assign(({ event }) => {
      const output = settled(event).output as ChargeOutput;
      return { failureCode: output.kind === 'declined' ? output.code : 'card_declined' };
    }),
    /** The PG's record shows the charge taken: its id and time, and the money it moved. */
    takePgTxId: enqueueActions(({ context, event, enqueue }) => {
      const record = pgRecordOf(event);
      if (record?.kind !== 'found') return;
      enqueue.assign({ pgTxId: record.pgTxId ?? context.pgTxId });
      enqueue.emit({ type: 'money', kind: 'charge', amount: record.paidAmount, at: epochOrNull(record.paidAt) });
    }),
    /** A new inquiry starts counting its waits from zero. */
    startInquiry: assign({ inquiryAttempts: 0, inquiryWaitedMs: 0, sentWaitedMs: 0, inquiryAlerted: false }),
    /** The call was sent again: the grace starts over, the inquiry (and its alert) goes on. */
    restartGrace: assign({ sentWaitedMs: 0 }),
    markChargeUnanswered: assign({ chargeUnanswered: true }),
    scheduleInquiry: enqueueActions(({ context, enqueue }) => {
      const waitMs = backoffMs(context.inquiryAttempts, context.paymentId, context.retry.baseMs, context.retry.capMs);
      const inquiryWaitedMs = context.inquiryWaitedMs + waitMs;
      enqueue.assign({ inquiryAttempts: context.inquiryAttempts + 1, inquiryWaitedMs, sentWaitedMs: context.sentWaitedMs + waitMs, waitMs });
      // The PG keeps us waiting (PENDING, no answer): never guess, but tell a person once.
      if (!context.inquiryAlerted && inquiryWaitedMs >= context.retry.inquiryAlertAfterMs) {
        enqueue.assign({ inquiryAlerted: true });
        enqueue.emit({
          type: 'alert',
          severity: 'warning',
          title: `Payment ${context.paymentId} has no final answer from the PG yet`,
          details: { inquiringForMs: inquiryWaitedMs, lookups: context.inquiryAttempts + 1 },
        });
      }
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
      return { cancel: { ...request, seq }, stepAttempts: 0, waitMs: 0 };
    }),
    recordRefund: enqueueActions(({ context, event, enqueue }) => {
      const cancelledAmount = refundTotal(context);
      enqueue.assign({ cancelledAmount, chargeReturned: cancelledAmount === context.amount, stepAttempts: 0, waitMs: 0 });
      enqueue.emit({ type: 'money', kind: 'refund', amount: context.cancel?.amount ?? 0, at: returnedAtOf(event) });
    }),
    recordVoid: enqueueActions(({ context, event, enqueue }) => {
      enqueue.assign({ chargeReturned: true, cancelledAmount: context.amount, voidAmount: null });
      const amount = context.voidAmount ?? context.amount - context.cancelledAmount;
      enqueue.emit({ type: 'money', kind: 'void', amount, at: returnedAtOf(event) });
    }),
    scheduleLateCheck: assign(({ context }) => ({
      waitMs: lateCheckOffset(context.retry, context.lateChecks + 1) - lateCheckOffset(context.retry, context.lateChecks),
    })),
    countLateCheck: assign(({ context }) => ({ lateChecks: context.lateChecks + 1, stepAttempts: 0 })),
    /** The window is over; a PG that still says PENDING then is worth a person's look. */
    closeLateWatch: enqueueActions(({ context, event, enqueue }) => {
      const status = pgStatusOf(event);
      if (status !== 'PENDING' && status !== 'READY') return;
      enqueue.emit({
        type: 'alert',
        severity: 'warning',
        title: `Payment ${context.paymentId} stopped watching for a late charge while the PG still says ${status}`,
        details: { failureCode: context.failureCode, pgStatus: status },
      });
    }),
    noticeLateCharge: enqueueActions(({ context, event, enqueue }) => {
      const record = pgRecordOf(event);
      const held = record?.kind === 'found' ? record.paidAmount - record.cancelledAmount : context.amount;
      enqueue.assign({ failureCode: 'late_charge_voided', voidAmount: held > 0 ? held : context.amount, stepAttempts: 0, waitMs: 0 });
      enqueue.emit({
        type: 'alert',
        severity: 'warning',
        title: `Payment ${context.paymentId} was charged after it failed; voiding the charge`,
        details: { amount: context.amount, failureCode: context.failureCode },
      });
    }),
    resumeAfterAttention: assign(({ context }) => ({
      attentionStep: null,
      failureCode: context.failureCodeBeforeAttention,
      stepAttempts: 0,
      waitMs: 0,
    })),
    /** The charge stands, as an operator decided: the payment is whole again. */
    keepCharge: assign({ attentionStep: null, failureCode: null, stepAttempts: 0, waitMs: 0 }),
    noteIgnored: assign(({ event }) => ({
      attentionReason: event.type === 'admin.ignore' ? `ignored by ${event.actor}: ${event.reason}` : null,
    })),
    /** The money went back outside Paystate: the payment ends cancelled. */
    resolveAsCancelled: assign(({ context }) => ({
      attentionStep: null,
      failureCode: 'resolved_by_operator',
      chargeReturned: true,
      cancelledAmount: context.amount,
      stepAttempts: 0,
      waitMs: 0,
    })),
  },
});

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
