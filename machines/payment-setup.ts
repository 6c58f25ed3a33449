import { assign, enqueueActions, fromPromise, setup } from 'xstate';
import { backoffMs } from './backoff.ts';
import type {
  AttentionStep,
  ChargeOutput,
  PaymentContext,
  PaymentEmitted,
  PaymentEvent,
  PaymentInput,
  PgPaymentStatus,
  PgRecord,
  RefundInput,
  RefundOutput,
  ReserveOutput,
  RetryPolicy,
  VoidInput,
  VoidOutput,
} from './payment.machine.ts';

// The payment machine's named guards, actions and actor slots (setup), and what they read
// off events: kept apart from the machine's states (payment.machine.ts), which refer to
// them by name. The actors here only reject: the service provides the real ones.

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
export function refundTotal(context: PaymentContext): number {
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

export const paymentSetup = setup({
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
