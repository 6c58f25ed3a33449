import { describe, expect, it } from 'vitest';
import { createActor, initialTransition, transition, type AnyActorRef } from 'xstate';
import { paymentMachine, type PgRecord, type RetryPolicy } from '../../machines/payment.machine.ts';
import { publicStatusOf, RESTING, statePath, WAITING } from '../../machines/payment-status.ts';
import { inertPaymentMachine } from '../support/inert-payment-machine.ts';

const retry: RetryPolicy = {
  baseMs: 100,
  capMs: 1_000,
  stepRetries: 2,
  notFoundGraceMs: 500,
  maxCharges: 2,
  inquiryAlertAfterMs: 2_000,
  lateChargeWindowMs: 8_000,
  lateChargeChecks: 3,
};
const input = { paymentId: 'pay_test', amount: 30_000, retry };

type Snapshot = ReturnType<typeof initialTransition<typeof paymentMachine>>[0];
type Action = ReturnType<typeof initialTransition<typeof paymentMachine>>[1][number];
// Events XState sends itself when an invoked actor settles.
type Step =
  | { done: string; output?: unknown }
  | { error: string; retryable?: boolean }
  | { type: string; [key: string]: unknown };

function toEvent(step: Step) {
  if ('done' in step) return { type: `xstate.done.actor.${step.done}`, output: step.output } as never;
  if ('error' in step) {
    return { type: `xstate.error.actor.${step.error}`, error: Object.assign(new Error('boom'), { retryable: step.retryable ?? false }) } as never;
  }
  return step as never;
}

function drive(...steps: Step[]): { snapshot: Snapshot; actions: Action[] } {
  let [snapshot, actions] = initialTransition(paymentMachine, input);
  for (const step of steps) [snapshot, actions] = transition(paymentMachine, snapshot, toEvent(step));
  return { snapshot, actions };
}

/** The invoked actors a transition starts, with their input. */
function started(actions: Action[]): Array<{ src: unknown; input: unknown }> {
  return actions
    .filter((a) => a.type === 'xstate.spawnChild')
    .map((a) => {
      const params = (a as unknown as { params: { src: unknown; input: unknown } }).params;
      return { src: params.src, input: params.input };
    });
}

/** What a transition emits: alerts, and money the PG moved. */
function emitted(actions: Action[]): Array<Record<string, unknown> & { type: string }> {
  return actions
    .filter((a) => (a.type as string) === 'xstate.emit')
    .map((a) => (a as unknown as { params: { event: Record<string, unknown> & { type: string } } }).params.event);
}
const alerts = (actions: Action[]) => emitted(actions).filter((e) => e.type === 'alert') as unknown as Array<{ severity: string; title: string }>;
const money = (actions: Action[]) => emitted(actions).filter((e) => e.type === 'money');

const found = (status: string, paidAmount = 30_000, cancelledAmount = 0): PgRecord =>
  ({ kind: 'found', status, pgTxId: 'tx-pg', paidAt: '2026-12-01T00:00:00.000Z', paidAmount, cancelledAmount, cancelledAt: null }) as PgRecord;
const reserved = { done: 'reserveStock', output: { kind: 'reserved' } };
const paid = { done: 'chargePayment', output: { kind: 'paid', pgTxId: 'tx-1', paidAt: '2026-12-01T00:00:01.000Z' } };
const declined = { done: 'chargePayment', output: { kind: 'declined', code: 'card_declined' } };
const unknownCharge = { done: 'chargePayment', output: { kind: 'unknown', reason: 'timeout' } };
const inquiry = (output: PgRecord) => ({ done: 'inquirePgStatus', output });
const notFound = inquiry({ kind: 'not_found' });
const due = { type: 'timer.due' } as const;
const pgStatus = (record: PgRecord) => ({ type: 'pg.status', record });

describe('reserving', () => {
  it('starts by reserving stock', () => {
    const { snapshot, actions } = drive();
    expect(snapshot.value).toEqual({ reserving: 'reservingStock' });
    expect(publicStatusOf(snapshot)).toBe('processing');
    expect(started(actions)).toEqual([{ src: 'reserveStock', input: { paymentId: 'pay_test' } }]);
  });

  it('charges once the stock is reserved, numbering the attempt', () => {
    const { snapshot, actions } = drive(reserved);
    expect(snapshot.value).toEqual({ charging: 'calling' });
    expect(snapshot.context.chargeAttempts).toBe(1);
    expect(started(actions)).toEqual([{ src: 'chargePayment', input: { paymentId: 'pay_test', attempt: 1 } }]);
  });

  it('rejects without calling the PG when out of stock', () => {
    const { snapshot, actions } = drive({ done: 'reserveStock', output: { kind: 'out_of_stock' } });
    expect(snapshot.value).toBe('rejected');
    expect(snapshot.context.failureCode).toBe('out_of_stock');
    expect(publicStatusOf(snapshot)).toBe('rejected');
    expect(snapshot.status).toBe('done');
    expect(started(actions)).toEqual([]);
  });

  it('retries a reservation that failed for a reason that may pass, after a durable wait', () => {
    const { snapshot, actions } = drive({ error: 'reserveStock', retryable: true });
    expect(snapshot.value).toEqual({ reserving: 'waiting' });
    expect(snapshot.hasTag(WAITING)).toBe(true);
    expect(publicStatusOf(snapshot)).toBe('processing');
    expect(started(actions)).toEqual([]);
    const again = drive({ error: 'reserveStock', retryable: true }, due);
    expect(again.snapshot.value).toEqual({ reserving: 'reservingStock' });
    expect(started(again.actions).map((a) => a.src)).toEqual(['reserveStock']);
  });

  it('rejects when the reservation fails for good, or keeps failing', () => {
    const final = drive({ error: 'reserveStock', retryable: false });
    expect(final.snapshot.value).toBe('rejected');
    expect(final.snapshot.context.failureCode).toBe('reservation_failed');
    const transient = { error: 'reserveStock', retryable: true };
    const exhausted = drive(transient, due, transient, due, transient);
    expect(exhausted.snapshot.value).toBe('rejected');
    expect(exhausted.snapshot.context.failureCode).toBe('reservation_failed');
  });
});

describe('charging and inquiry', () => {
  it('fulfils a paid charge and completes', () => {
    const afterPaid = drive(reserved, paid);
    expect(afterPaid.snapshot.value).toEqual({ finalizing: 'fulfilling' });
    expect(afterPaid.snapshot.context.pgTxId).toBe('tx-1');
    expect(started(afterPaid.actions)).toEqual([{ src: 'fulfilOrder', input: { paymentId: 'pay_test' } }]);

    const { snapshot } = drive(reserved, paid, { done: 'fulfilOrder' });
    expect(snapshot.value).toBe('completed');
    expect(publicStatusOf(snapshot)).toBe('completed');
    expect(snapshot.hasTag(RESTING)).toBe(true);
  });

  it('releases the stock of a declined charge and fails for good: an answered decline cannot land later', () => {
    const afterDecline = drive(reserved, declined);
    expect(afterDecline.snapshot.value).toEqual({ releasing: 'releasingStock' });
    expect(afterDecline.snapshot.context.failureCode).toBe('card_declined');
    expect(started(afterDecline.actions)).toEqual([{ src: 'releaseStock', input: { paymentId: 'pay_test' } }]);

    const { snapshot } = drive(reserved, declined, { done: 'releaseStock' });
    expect(snapshot.value).toEqual({ failed: 'closed' });
    expect(publicStatusOf(snapshot)).toBe('failed');
    expect(snapshot.hasTag(RESTING)).toBe(true);
  });

  it('asks the PG when the charge outcome is unknown', () => {
    const { snapshot, actions } = drive(reserved, unknownCharge);
    expect(snapshot.value).toEqual({ inquiring: 'checking' });
    expect(snapshot.context.chargeUnanswered).toBe(true);
    expect(publicStatusOf(snapshot)).toBe('processing');
    expect(started(actions)).toEqual([{ src: 'inquirePgStatus', input: { paymentId: 'pay_test' } }]);
  });

  it('retries a charge whose attempt could not be marked (busy database) without counting an attempt', () => {
    const waiting = drive(reserved, { error: 'chargePayment', retryable: true });
    expect(waiting.snapshot.value).toEqual({ charging: 'waiting' });
    expect(waiting.snapshot.hasTag(WAITING)).toBe(true);
    const again = drive(reserved, { error: 'chargePayment', retryable: true }, due);
    expect(again.snapshot.value).toEqual({ charging: 'calling' });
    expect(started(again.actions)).toEqual([{ src: 'chargePayment', input: { paymentId: 'pay_test', attempt: 1 } }]);
  });

  it('asks the PG, without expecting a late charge, when the charge step fails for good before calling', () => {
    const { snapshot } = drive(reserved, { error: 'chargePayment', retryable: false });
    expect(snapshot.value).toEqual({ inquiring: 'checking' });
    expect(snapshot.context.chargeUnanswered).toBe(false);
  });

  it('finalizes when the inquiry finds the payment paid', () => {
    const { snapshot } = drive(reserved, unknownCharge, inquiry({ ...found('PAID'), pgTxId: 'tx-9' } as PgRecord));
    expect(snapshot.value).toEqual({ finalizing: 'fulfilling' });
    expect(snapshot.context.pgTxId).toBe('tx-9');
  });

  it('releases when the inquiry finds the payment failed', () => {
    const { snapshot } = drive(reserved, unknownCharge, inquiry(found('FAILED', 0)));
    expect(snapshot.value).toEqual({ releasing: 'releasingStock' });
    expect(snapshot.context.failureCode).toBe('charge_failed');
  });

  it('ends cancelled when the inquiry finds the charge taken and already given back', () => {
    const returned = drive(reserved, unknownCharge, inquiry(found('CANCELLED', 30_000, 30_000)));
    expect(returned.snapshot.value).toEqual({ releasing: 'releasingStock' });
    expect(returned.snapshot.context).toMatchObject({ failureCode: 'charge_returned', chargeReturned: true, cancelledAmount: 30_000 });
    expect(drive(reserved, unknownCharge, inquiry(found('CANCELLED', 30_000, 30_000)), { done: 'releaseStock' }).snapshot.value).toBe('cancelled');
  });

  it('waits with a jittered backoff while the PG says pending, then asks again', () => {
    const waiting = drive(reserved, unknownCharge, inquiry(found('PENDING', 0)));
    expect(waiting.snapshot.value).toEqual({ inquiring: 'waiting' });
    expect(waiting.snapshot.hasTag(WAITING)).toBe(true);
    expect(waiting.snapshot.context.inquiryAttempts).toBe(1);
    expect(waiting.snapshot.context.waitMs).toBeGreaterThanOrEqual(0);
    expect(waiting.snapshot.context.waitMs).toBeLessThanOrEqual(retry.baseMs);
    expect(started(waiting.actions)).toEqual([]);

    const again = drive(reserved, unknownCharge, inquiry(found('PENDING', 0)), due);
    expect(again.snapshot.value).toEqual({ inquiring: 'checking' });
    expect(started(again.actions)).toEqual([{ src: 'inquirePgStatus', input: { paymentId: 'pay_test' } }]);
  });

  it('keeps asking (never charges blindly) when the inquiry itself fails', () => {
    expect(drive(reserved, unknownCharge, { error: 'inquirePgStatus' }).snapshot.value).toEqual({ inquiring: 'waiting' });
    expect(drive(reserved, unknownCharge, inquiry({ kind: 'unknown', reason: 'timeout' })).snapshot.value).toEqual({ inquiring: 'waiting' });
  });

  it('raises one warning alert once an inquiry has waited past the alert delay, and keeps asking', () => {
    const steps: Step[] = [reserved, unknownCharge];
    const raised: string[] = [];
    for (let i = 0; i < 12; i++) {
      const { snapshot, actions } = drive(...steps, inquiry(found('PENDING', 0)));
      raised.push(...alerts(actions).map((a) => a.severity));
      expect(snapshot.value).toEqual({ inquiring: 'waiting' });
      if (snapshot.context.inquiryWaitedMs < retry.inquiryAlertAfterMs) expect(raised).toEqual([]);
      steps.push(inquiry(found('PENDING', 0)), due);
    }
    expect(raised).toEqual(['warning']);
    expect(drive(...steps).snapshot.context.inquiryAlerted).toBe(true);
  });

  it('waits out the grace period when the PG does not know the charge yet', () => {
    expect(drive(reserved, unknownCharge, notFound).snapshot.value).toEqual({ inquiring: 'waiting' });
  });

  /** Not-found answers until the summed waits pass the grace period. */
  function notFoundPastGrace(before: Step[]): Step[] {
    const steps: Step[] = [...before];
    let { snapshot } = drive(...steps);
    while (snapshot.context.inquiryWaitedMs < retry.notFoundGraceMs) {
      steps.push(notFound, due);
      ({ snapshot } = drive(...steps));
    }
    return steps;
  }

  it('charges again with the next attempt number when the PG never saw the charge', () => {
    const { snapshot, actions } = drive(...notFoundPastGrace([reserved, unknownCharge]), notFound);
    expect(snapshot.value).toEqual({ charging: 'calling' });
    expect(snapshot.context.chargeAttempts).toBe(2);
    expect(started(actions)).toEqual([{ src: 'chargePayment', input: { paymentId: 'pay_test', attempt: 2 } }]);
  });

  it('gives up and releases when the last allowed charge never reached the PG', () => {
    const first = notFoundPastGrace([reserved, unknownCharge]);
    const steps = notFoundPastGrace([...first, notFound, unknownCharge]);
    const { snapshot } = drive(...steps, notFound);
    expect(snapshot.context.chargeAttempts).toBe(retry.maxCharges);
    expect(snapshot.value).toEqual({ releasing: 'releasingStock' });
    expect(snapshot.context.failureCode).toBe('charge_not_received');
  });

  it('finalizes at once when the PG reports the charge paid while our call is pending', () => {
    const { snapshot, actions } = drive(reserved, pgStatus({ ...found('PAID'), pgTxId: 'tx-w' } as PgRecord));
    expect(snapshot.value).toEqual({ finalizing: 'fulfilling' });
    expect(snapshot.context.pgTxId).toBe('tx-w');
    expect(started(actions).map((a) => a.src)).toEqual(['fulfilOrder']);
  });

  it('ignores a PG failure report while the charge call is pending', () => {
    expect(drive(reserved, pgStatus(found('FAILED', 0))).snapshot.value).toEqual({ charging: 'calling' });
  });

  it('acts on PG reports during inquiry, even while hibernating', () => {
    const waiting: Step[] = [reserved, unknownCharge, inquiry(found('PENDING', 0))];
    expect(drive(...waiting, pgStatus(found('PAID'))).snapshot.value).toEqual({ finalizing: 'fulfilling' });
    const failedNow = drive(...waiting, pgStatus(found('FAILED', 0)));
    expect(failedNow.snapshot.value).toEqual({ releasing: 'releasingStock' });
    expect(failedNow.snapshot.context.failureCode).toBe('charge_failed');
    expect(drive(...waiting, pgStatus(found('PENDING', 0))).snapshot.value).toEqual({ inquiring: 'waiting' });
  });

  it('ignores PG reports of a paid charge once the payment completed, and timers when nothing waits', () => {
    expect(drive(reserved, paid, { done: 'fulfilOrder' }, pgStatus(found('FAILED', 0))).snapshot.value).toBe('completed');
    expect(drive(reserved, due).snapshot.value).toEqual({ charging: 'calling' });
  });
});

describe('money the PG moved (what settlement adds up)', () => {
  const completed: Step[] = [reserved, paid, { done: 'fulfilOrder' }];
  const cancel = (amount: number) => ({ type: 'api.cancel', id: 'can_1', amount, reason: 'r', idempotencyKey: 'k', fingerprint: 'f' });

  it('reports a charge once, at the time the PG says it took the money', () => {
    expect(money(drive(reserved, paid).actions)).toEqual([{ type: 'money', kind: 'charge', amount: 30_000, at: Date.parse('2026-12-01T00:00:01.000Z') }]);
    expect(money(drive(reserved, paid, { done: 'fulfilOrder' }).actions)).toEqual([]);
    // Learned by inquiry or by webhook: the PG's record carries the time.
    expect(money(drive(reserved, unknownCharge, inquiry(found('PAID'))).actions)).toEqual([
      { type: 'money', kind: 'charge', amount: 30_000, at: Date.parse('2026-12-01T00:00:00.000Z') },
    ]);
    expect(money(drive(reserved, pgStatus(found('PAID'))).actions)).toMatchObject([{ kind: 'charge' }]);
  });

  it('reports each refund when it lands, and a void with what it gave back', () => {
    expect(money(drive(...completed, cancel(10_000), { done: 'refundPayment', output: { kind: 'refunded' } }).actions)).toEqual([
      { type: 'money', kind: 'refund', amount: 10_000, at: null },
    ]);
    expect(money(drive(...completed, cancel(10_000), { done: 'refundPayment', output: { kind: 'unknown', reason: 'x' } }).actions)).toEqual([]);
    const fulfilFails: Step[] = [reserved, paid, { error: 'fulfilOrder' }, due, { error: 'fulfilOrder' }, due, { error: 'fulfilOrder' }];
    expect(money(drive(...fulfilFails, { done: 'voidCharge', output: { kind: 'voided' } }).actions)).toEqual([
      { type: 'money', kind: 'void', amount: 30_000, at: null },
    ]);
  });

  it('dates money given back by the PG’s own time when it says one', () => {
    const refundedAt = '2026-12-01T14:59:59.000Z';
    expect(
      money(drive(...completed, cancel(10_000), { done: 'refundPayment', output: { kind: 'refunded', cancelledAt: refundedAt } }).actions),
    ).toEqual([{ type: 'money', kind: 'refund', amount: 10_000, at: Date.parse(refundedAt) }]);
    const fulfilFails: Step[] = [reserved, paid, { error: 'fulfilOrder' }, due, { error: 'fulfilOrder' }, due, { error: 'fulfilOrder' }];
    expect(money(drive(...fulfilFails, { done: 'voidCharge', output: { kind: 'voided', cancelledAt: refundedAt } }).actions)).toMatchObject([
      { kind: 'void', at: Date.parse(refundedAt) },
    ]);
    const returned: PgRecord = { ...(found('CANCELLED', 30_000, 30_000) as object), cancelledAt: refundedAt } as PgRecord;
    expect(money(drive(reserved, unknownCharge, inquiry(returned)).actions)).toMatchObject([
      { kind: 'charge', at: Date.parse('2026-12-01T00:00:00.000Z') },
      { kind: 'void', at: Date.parse(refundedAt) },
    ]);
  });

  it('reports both when an inquiry finds the charge taken and already given back', () => {
    expect(money(drive(reserved, unknownCharge, inquiry(found('CANCELLED', 30_000, 30_000))).actions).map((m) => m.kind)).toEqual(['charge', 'void']);
  });
});

describe('fulfilment and compensation', () => {
  const fulfilmentExhausted: Step[] = [reserved, paid, { error: 'fulfilOrder' }, due, { error: 'fulfilOrder' }, due, { error: 'fulfilOrder' }];

  it('retries a failing fulfilment after a wait', () => {
    const { snapshot } = drive(reserved, paid, { error: 'fulfilOrder' });
    expect(snapshot.value).toEqual({ finalizing: 'waiting' });
    expect(snapshot.context.stepAttempts).toBe(1);
    expect(drive(reserved, paid, { error: 'fulfilOrder' }, due).snapshot.value).toEqual({ finalizing: 'fulfilling' });
  });

  it('voids the charge when fulfilment keeps failing after payment', () => {
    const { snapshot, actions } = drive(...fulfilmentExhausted);
    expect(snapshot.value).toEqual({ compensating: 'voiding' });
    expect(snapshot.context.failureCode).toBe('fulfilment_failed');
    expect(started(actions)).toEqual([
      { src: 'voidCharge', input: { paymentId: 'pay_test', amount: 30_000, cancelledTotal: 30_000, fromState: 'compensating' } },
    ]);
  });

  it('releases the stock after a void and ends cancelled', () => {
    const { snapshot } = drive(...fulfilmentExhausted, { done: 'voidCharge', output: { kind: 'voided' } }, { done: 'releaseStock' });
    expect(snapshot.value).toBe('cancelled');
    expect(publicStatusOf(snapshot)).toBe('cancelled');
    expect(snapshot.context).toMatchObject({ failureCode: 'fulfilment_failed', cancelledAmount: 30_000 });
  });

  it('needs an operator when the PG refuses the void', () => {
    const { snapshot } = drive(...fulfilmentExhausted, { done: 'voidCharge', output: { kind: 'refused', code: 'PAYMENT_NOT_PAID' } });
    expect(snapshot.value).toBe('requires_attention');
    expect(publicStatusOf(snapshot)).toBe('requires_attention');
    expect(snapshot.context).toMatchObject({ attentionStep: 'voiding', failureCode: 'compensation_failed', attentionReason: 'pg_refused:PAYMENT_NOT_PAID' });
  });

  it('retries an unanswered void, then needs an operator', () => {
    const unanswered = { done: 'voidCharge', output: { kind: 'unknown', reason: 'timeout' } };
    expect(drive(...fulfilmentExhausted, unanswered).snapshot.value).toEqual({ compensating: 'waiting' });
    const { snapshot } = drive(...fulfilmentExhausted, unanswered, due, unanswered, due, unanswered);
    expect(snapshot.value).toBe('requires_attention');
    expect(snapshot.context.attentionStep).toBe('voiding');
  });

  it('retries a failing release, then needs an operator and keeps the stock reserved', () => {
    expect(drive(reserved, declined, { error: 'releaseStock' }).snapshot.value).toEqual({ releasing: 'waiting' });
    const { snapshot, actions } = drive(reserved, declined, { error: 'releaseStock' }, due, { error: 'releaseStock' }, due, { error: 'releaseStock' });
    expect(snapshot.value).toBe('requires_attention');
    expect(snapshot.context.attentionStep).toBe('releasing');
    expect(started(actions)).toEqual([]);
  });
});

describe('late charges', () => {
  /** The charge got no answer, the PG never knew it, and the payment gave up. */
  const gaveUp = (() => {
    const steps: Step[] = [reserved, unknownCharge];
    for (let charge = 1; charge <= retry.maxCharges; charge++) {
      let { snapshot } = drive(...steps);
      while (snapshot.context.inquiryWaitedMs < retry.notFoundGraceMs) {
        steps.push(notFound, due);
        ({ snapshot } = drive(...steps));
      }
      steps.push(notFound);
      if (charge < retry.maxCharges) steps.push(unknownCharge);
    }
    return [...steps, { done: 'releaseStock' }];
  })();

  it('records a late charge the PG already gave back (by webhook or at a check), and ends cancelled', () => {
    const returned = found('CANCELLED', 30_000, 30_000);
    const seen = drive(...gaveUp, pgStatus(returned));
    expect(seen.snapshot.value).toBe('cancelled');
    expect(money(seen.actions).map((m) => m.kind)).toEqual(['charge', 'void']);
    const checked = drive(...gaveUp, due, inquiry(returned));
    expect(checked.snapshot.value).toBe('cancelled');
    expect(money(checked.actions).map((m) => m.kind)).toEqual(['charge', 'void']);
  });

  it('watches a failed payment whose charge went unanswered, on a widening schedule', () => {
    const { snapshot } = drive(...gaveUp);
    expect(snapshot.value).toEqual({ failed: 'watching' });
    expect(publicStatusOf(snapshot)).toBe('failed');
    expect(snapshot.context.failureCode).toBe('charge_not_received');
    expect(snapshot.hasTag(WAITING)).toBe(true);
    const waits = [snapshot.context.waitMs];
    const steps: Step[] = [...gaveUp];
    for (let check = 1; check < retry.lateChargeChecks; check++) {
      steps.push(due, inquiry({ kind: 'not_found' }));
      const next = drive(...steps).snapshot;
      expect(next.value).toEqual({ failed: 'watching' });
      waits.push(next.context.waitMs);
    }
    // Checks at window/4, window/2, window: each wait as long as all before it.
    expect(waits).toEqual([2_000, 2_000, 4_000]);
    const last = drive(...steps, due, inquiry(found('FAILED', 0)));
    expect(last.snapshot.value).toEqual({ failed: 'closed' });
    expect(last.snapshot.hasTag(RESTING)).toBe(true);
  });

  it('asks the PG at each check and voids a charge that landed, ending cancelled', () => {
    const check = drive(...gaveUp, due);
    expect(check.snapshot.value).toEqual({ failed: 'checking' });
    expect(started(check.actions)).toEqual([{ src: 'inquirePgStatus', input: { paymentId: 'pay_test' } }]);
    const landed = drive(...gaveUp, due, inquiry(found('PAID')));
    expect(landed.snapshot.value).toEqual({ voidingLateCharge: 'voiding' });
    expect(publicStatusOf(landed.snapshot)).toBe('cancel_requested');
    expect(landed.snapshot.context.failureCode).toBe('late_charge_voided');
    expect(alerts(landed.actions)).toEqual([expect.objectContaining({ severity: 'warning' })]);
    expect(started(landed.actions)).toEqual([
      { src: 'voidCharge', input: { paymentId: 'pay_test', amount: 30_000, cancelledTotal: 30_000, fromState: 'voidingLateCharge' } },
    ]);
    const { snapshot } = drive(...gaveUp, due, inquiry(found('PAID')), { done: 'voidCharge', output: { kind: 'voided' } });
    expect(snapshot.value).toBe('cancelled');
    expect(snapshot.context).toMatchObject({ failureCode: 'late_charge_voided', cancelledAmount: 30_000 });
  });

  it('does not use up a check on a lookup the PG did not answer', () => {
    const noAnswer = drive(...gaveUp, due, inquiry({ kind: 'unknown', reason: 'timeout' }));
    expect(noAnswer.snapshot.value).toEqual({ failed: 'watching' });
    expect(noAnswer.snapshot.context.lateChecks).toBe(0);
    expect(noAnswer.snapshot.context.waitMs).toBeLessThanOrEqual(retry.baseMs);
    const answered = drive(...gaveUp, due, inquiry({ kind: 'unknown', reason: 'timeout' }), due, inquiry({ kind: 'not_found' }));
    expect(answered.snapshot.context.lateChecks).toBe(1);
  });

  it('raises a warning when the window ends while the PG still says PENDING', () => {
    const steps: Step[] = [...gaveUp];
    for (let check = 1; check < retry.lateChargeChecks; check++) steps.push(due, inquiry(found('PENDING', 0)));
    const { snapshot, actions } = drive(...steps, due, inquiry(found('PENDING', 0)));
    expect(snapshot.value).toEqual({ failed: 'closed' });
    expect(alerts(actions)).toEqual([expect.objectContaining({ severity: 'warning', title: expect.stringContaining('PENDING') })]);
    expect(alerts(drive(...steps, due, inquiry(found('FAILED', 0))).actions)).toEqual([]);
  });

  it('voids only what the PG still holds of a late charge', () => {
    const { snapshot, actions } = drive(...gaveUp, pgStatus(found('PARTIAL_CANCELLED', 30_000, 10_000)));
    expect(started(actions)[0]?.input).toMatchObject({ amount: 20_000, cancelledTotal: 30_000 });
    expect(drive(...gaveUp, pgStatus(found('PARTIAL_CANCELLED', 30_000, 10_000)), { done: 'voidCharge', output: { kind: 'voided' } }).snapshot.context).toMatchObject({
      cancelledAmount: 30_000,
      voidAmount: null,
    });
    expect(snapshot.context.voidAmount).toBe(20_000);
  });

  it('voids a late charge reported by the PG even after the watch ended, or of a payment never watched', () => {
    const closed = [reserved, declined, { done: 'releaseStock' }];
    expect(drive(...closed).snapshot.value).toEqual({ failed: 'closed' });
    expect(drive(...closed, pgStatus(found('PAID'))).snapshot.value).toEqual({ voidingLateCharge: 'voiding' });
    expect(drive(...gaveUp, pgStatus(found('PAID'))).snapshot.value).toEqual({ voidingLateCharge: 'voiding' });
  });

  it('needs an operator when the late charge cannot be voided; a retry voids again', () => {
    const refused = drive(...gaveUp, due, inquiry(found('PAID')), { done: 'voidCharge', output: { kind: 'refused', code: 'PG_PROVIDER' } });
    expect(refused.snapshot.value).toBe('requires_attention');
    expect(refused.snapshot.context.attentionStep).toBe('voiding_late_charge');
    const retried = drive(...gaveUp, due, inquiry(found('PAID')), { done: 'voidCharge', output: { kind: 'refused', code: 'PG_PROVIDER' } }, {
      type: 'admin.retry',
      failedEventId: '1',
      actor: 'ops',
      reason: 'try again',
    });
    expect(retried.snapshot.value).toEqual({ voidingLateCharge: 'voiding' });
    expect(retried.snapshot.context.failureCode).toBe('late_charge_voided');
  });
});

describe('refunds', () => {
  const completed: Step[] = [reserved, paid, { done: 'fulfilOrder' }];
  const cancel = (amount: number, id = 'can_1') =>
    ({ type: 'api.cancel', id, amount, reason: 'changed my mind', idempotencyKey: `key-${id}`, fingerprint: 'f' });
  const refunded = { done: 'refundPayment', output: { kind: 'refunded' } };
  const noAnswer = { done: 'refundPayment', output: { kind: 'unknown', reason: 'timeout' } };

  it('asks the PG to refund with a key of payment id and cancellation number', () => {
    const { snapshot, actions } = drive(...completed, cancel(10_000));
    expect(snapshot.value).toEqual({ cancelling: 'refunding' });
    expect(publicStatusOf(snapshot)).toBe('cancel_requested');
    expect(started(actions)).toEqual([
      {
        src: 'refundPayment',
        input: {
          paymentId: 'pay_test',
          cancellationId: 'can_1',
          amount: 10_000,
          cancelledTotal: 10_000,
          reason: 'changed my mind',
          pgIdempotencyKey: 'pay_test:cancel:1',
        },
      },
    ]);
  });

  it('refuses a cancel of more than is left, or of nothing, or while one is in flight', () => {
    expect(drive(...completed, cancel(30_001)).snapshot.value).toBe('completed');
    expect(drive(...completed, cancel(0)).snapshot.value).toBe('completed');
    expect(drive(...completed, cancel(10_000), cancel(5_000, 'can_2')).snapshot.context.cancel?.id).toBe('can_1');
  });

  it('refunds money only when a partial cancel leaves money on the payment', () => {
    const { snapshot, actions } = drive(...completed, cancel(10_000), refunded);
    expect(snapshot.value).toBe('partially_cancelled');
    expect(snapshot.context.cancelledAmount).toBe(10_000);
    expect(started(actions)).toEqual([]);
  });

  it('returns the stock once refunds bring the payment to zero, never showing processing again', () => {
    const steps: Step[] = [...completed, cancel(10_000), refunded, cancel(20_000, 'can_2')];
    expect(started(drive(...steps).actions)[0]?.input).toMatchObject({ amount: 20_000, cancelledTotal: 30_000, pgIdempotencyKey: 'pay_test:cancel:2' });
    const last = drive(...steps, refunded);
    expect(last.snapshot.value).toEqual({ cancelling: { returningStock: 'releasingStock' } });
    expect(publicStatusOf(last.snapshot)).toBe('cancel_requested');
    expect(last.snapshot.context.cancelledAmount).toBe(30_000);
    const retrying = drive(...steps, refunded, { error: 'releaseStock' });
    expect(retrying.snapshot.value).toEqual({ cancelling: { returningStock: 'waiting' } });
    expect(publicStatusOf(retrying.snapshot)).toBe('cancel_requested');
    const { snapshot } = drive(...steps, refunded, { done: 'releaseStock' });
    expect(snapshot.value).toBe('cancelled');
    expect(snapshot.context.failureCode).toBeNull();
  });

  it('asks the PG whether an unanswered refund landed, and takes its word', () => {
    const asking = drive(...completed, cancel(10_000), noAnswer);
    expect(asking.snapshot.value).toEqual({ cancelling: 'checking' });
    expect(started(asking.actions)).toEqual([{ src: 'inquirePgStatus', input: { paymentId: 'pay_test' } }]);
    const landed = drive(...completed, cancel(10_000), noAnswer, inquiry(found('PARTIAL_CANCELLED', 30_000, 10_000)));
    expect(landed.snapshot.value).toBe('partially_cancelled');
    expect(landed.snapshot.context.cancelledAmount).toBe(10_000);
    const all = drive(...completed, cancel(30_000), noAnswer, inquiry(found('CANCELLED', 30_000, 30_000)));
    expect(all.snapshot.value).toEqual({ cancelling: { returningStock: 'releasingStock' } });
  });

  it('keeps asking while the PG does not answer or the grace has not passed, with a warning once overdue', () => {
    const noRecord = drive(...completed, cancel(10_000), noAnswer, inquiry({ kind: 'unknown', reason: 'timeout' }));
    expect(noRecord.snapshot.value).toEqual({ cancelling: 'waiting' });
    expect(publicStatusOf(noRecord.snapshot)).toBe('cancel_requested');
    const notYet = drive(...completed, cancel(10_000), noAnswer, inquiry(found('PAID')));
    expect(notYet.snapshot.value).toEqual({ cancelling: 'waiting' });
    const steps: Step[] = [...completed, cancel(10_000), noAnswer];
    const raised: unknown[] = [];
    for (let i = 0; i < 12; i++) {
      raised.push(...alerts(drive(...steps, inquiry({ kind: 'unknown', reason: 'timeout' })).actions));
      steps.push(inquiry({ kind: 'unknown', reason: 'timeout' }), due);
    }
    expect(drive(...steps).snapshot.value).toEqual({ cancelling: 'checking' });
    expect(raised).toHaveLength(1);
  });

  it('sends a refund the PG never saw again after each grace, for as long as it takes, with one warning', () => {
    const steps: Step[] = [...completed, cancel(10_000), noAnswer];
    let sends = 1;
    const raised: unknown[] = [];
    for (let lookup = 0; lookup < 40; lookup++) {
      const { snapshot, actions } = drive(...steps, inquiry(found('PAID')));
      raised.push(...alerts(actions));
      expect(snapshot.value).not.toBe('requires_attention');
      if (statePath(snapshot.value) === 'cancelling.refunding') {
        sends++;
        expect(started(actions)).toEqual([expect.objectContaining({ src: 'refundPayment' })]);
        steps.push(inquiry(found('PAID')), noAnswer);
      } else {
        steps.push(inquiry(found('PAID')), due);
      }
    }
    expect(sends).toBeGreaterThan(3);
    expect(raised).toHaveLength(1);
    // Each resend keeps the key of the cancellation.
    expect(drive(...steps).snapshot.context.cancel).toMatchObject({ id: 'can_1', seq: 1 });
  });

  it('needs an operator at once when the PG refuses the refund', () => {
    const { snapshot } = drive(...completed, cancel(30_000), { done: 'refundPayment', output: { kind: 'refused', code: 'PAYMENT_NOT_PAID' } });
    expect(snapshot.value).toBe('requires_attention');
    expect(snapshot.context.attentionReason).toBe('pg_refused:PAYMENT_NOT_PAID');
  });
});

describe('operator actions and the PG settling what waits on an operator', () => {
  const action = { failedEventId: '7', actor: 'ops@example', reason: 'PG is back' };
  const completed: Step[] = [reserved, paid, { done: 'fulfilOrder' }];
  const voidRefused: Step[] = [reserved, paid, { error: 'fulfilOrder' }, due, { error: 'fulfilOrder' }, due, { error: 'fulfilOrder' }, { done: 'voidCharge', output: { kind: 'refused', code: 'X' } }];
  const releaseBroken: Step[] = [reserved, declined, { error: 'releaseStock' }, due, { error: 'releaseStock' }, due, { error: 'releaseStock' }];
  const refundRefused = (amount: number): Step[] => [
    ...completed,
    { type: 'api.cancel', id: 'can_1', amount, reason: 'r', idempotencyKey: 'k', fingerprint: 'f' },
    { done: 'refundPayment', output: { kind: 'refused', code: 'PG_PROVIDER' } },
  ];
  const resolve = (outcome: string) => ({ type: 'admin.resolve', outcome, actor: 'kim', reason: 'settled by phone' });

  it('sends a retried payment back into the step that failed', () => {
    const voiding = drive(...voidRefused, { type: 'admin.retry', ...action });
    expect(voiding.snapshot.value).toEqual({ compensating: 'voiding' });
    expect(voiding.snapshot.context.failureCode).toBe('fulfilment_failed');
    expect(started(voiding.actions).map((a) => a.src)).toEqual(['voidCharge']);

    const releasing = drive(...releaseBroken, { type: 'admin.retry', ...action });
    expect(releasing.snapshot.value).toEqual({ releasing: 'releasingStock' });
    expect(releasing.snapshot.context.failureCode).toBe('card_declined');
    expect(releasing.snapshot.context.stepAttempts).toBe(0);

    const refunding = drive(...refundRefused(30_000), { type: 'admin.retry', ...action });
    expect(refunding.snapshot.value).toEqual({ cancelling: 'refunding' });
  });

  it('keeps an ignored payment where it is', () => {
    const { snapshot } = drive(...voidRefused, { type: 'admin.ignore', ...action });
    expect(snapshot.value).toBe('requires_attention');
    expect(snapshot.context.attentionReason).toBe('ignored by ops@example: PG is back');
  });

  it('takes operator actions only from a payment that needs attention', () => {
    expect(drive(...completed, { type: 'admin.retry', ...action }).snapshot.value).toBe('completed');
    expect(drive(...completed, resolve('cancelled')).snapshot.value).toBe('completed');
  });

  it('resolves as cancelled: the stock goes back and the payment ends cancelled', () => {
    const releasing = drive(...voidRefused, resolve('cancelled'));
    expect(releasing.snapshot.value).toEqual({ releasing: 'releasingStock' });
    expect(releasing.snapshot.context).toMatchObject({ failureCode: 'resolved_by_operator', cancelledAmount: 30_000, attentionStep: null });
    expect(drive(...voidRefused, resolve('cancelled'), { done: 'releaseStock' }).snapshot.value).toBe('cancelled');
  });

  it('resolves a stuck stock release by releasing: the payment ends as its money had already settled', () => {
    // After a decline no money was ever taken: it ends failed, as it would have.
    const neverCharged = drive(...releaseBroken, resolve('cancelled'), { done: 'releaseStock' });
    expect(neverCharged.snapshot.value).toEqual({ failed: 'closed' });
    expect(neverCharged.snapshot.context).toMatchObject({ failureCode: 'card_declined', cancelledAmount: 0 });
    // After a full refund the money went back through the PG: it ends cancelled, and never shows processing.
    const refundedAll = [...completed, { type: 'api.cancel', id: 'can_1', amount: 30_000, reason: 'r', idempotencyKey: 'k', fingerprint: 'f' }, { done: 'refundPayment', output: { kind: 'refunded' } }];
    const stuck = [...refundedAll, { error: 'releaseStock' }, due, { error: 'releaseStock' }, due, { error: 'releaseStock' }];
    expect(drive(...stuck).snapshot.context.attentionStep).toBe('returning_stock');
    const retried = drive(...stuck, { type: 'admin.retry', ...action });
    expect(retried.snapshot.value).toEqual({ cancelling: { returningStock: 'releasingStock' } });
    expect(publicStatusOf(retried.snapshot)).toBe('cancel_requested');
    const resolved = drive(...stuck, resolve('cancelled'), { done: 'releaseStock' });
    expect(resolved.snapshot.value).toBe('cancelled');
    expect(resolved.snapshot.context.failureCode).toBeNull();
  });

  it('resolves as kept: back to completed (fulfilled first) or partially_cancelled', () => {
    const fulfilAgain = drive(...voidRefused, resolve('kept'));
    expect(fulfilAgain.snapshot.value).toEqual({ finalizing: 'fulfilling' });
    expect(fulfilAgain.snapshot.context.failureCode).toBeNull();
    expect(drive(...refundRefused(30_000), resolve('kept')).snapshot.value).toBe('completed');
    const partial = [...completed, { type: 'api.cancel', id: 'can_0', amount: 5_000, reason: 'r', idempotencyKey: 'k0', fingerprint: 'f' }, { done: 'refundPayment', output: { kind: 'refunded' } }];
    const partlyKept = drive(
      ...partial,
      { type: 'api.cancel', id: 'can_1', amount: 5_000, reason: 'r', idempotencyKey: 'k1', fingerprint: 'f' },
      { done: 'refundPayment', output: { kind: 'refused', code: 'PG_PROVIDER' } },
      resolve('kept'),
    );
    expect(partlyKept.snapshot.value).toBe('partially_cancelled');
    expect(partlyKept.snapshot.context.cancelledAmount).toBe(5_000);
  });

  it('refuses to keep a charge whose stock is already gone or that never happened', () => {
    expect(drive(...releaseBroken, resolve('kept')).snapshot.value).toBe('requires_attention');
  });

  it('takes the PG’s word when it shows the refund or void an operator waits on landed', () => {
    const partly = drive(...refundRefused(10_000), pgStatus(found('PARTIAL_CANCELLED', 30_000, 10_000)));
    expect(partly.snapshot.value).toBe('partially_cancelled');
    expect(partly.snapshot.context).toMatchObject({ cancelledAmount: 10_000, failureCode: null, attentionStep: null });
    const all = drive(...refundRefused(30_000), pgStatus(found('CANCELLED', 30_000, 30_000)));
    expect(all.snapshot.value).toEqual({ cancelling: { returningStock: 'releasingStock' } });
    const voided = drive(...voidRefused, pgStatus(found('CANCELLED', 30_000, 30_000)));
    expect(voided.snapshot.value).toEqual({ releasing: 'releasingStock' });
    expect(voided.snapshot.context.chargeReturned).toBe(true);
    expect(drive(...refundRefused(10_000), pgStatus(found('PAID'))).snapshot.value).toBe('requires_attention');
  });
});

describe('persisted payment snapshots', () => {
  const inert = inertPaymentMachine();
  const cancel = { type: 'api.cancel', id: 'c', amount: 1, reason: 'r', idempotencyKey: 'k', fingerprint: 'f' };
  const completed: Step[] = [reserved, paid, { done: 'fulfilOrder' }];
  const unanswered: Step[] = [reserved, unknownCharge, inquiry(found('FAILED', 0)), { done: 'releaseStock' }];
  const paths: Record<string, Step[]> = {
    'reserving.reservingStock': [],
    'reserving.waiting': [{ error: 'reserveStock', retryable: true }],
    'charging.calling': [reserved],
    'charging.waiting': [reserved, { error: 'chargePayment', retryable: true }],
    'inquiring.checking': [reserved, unknownCharge],
    'inquiring.waiting': [reserved, unknownCharge, inquiry(found('PENDING', 0))],
    'finalizing.fulfilling': [reserved, paid],
    'finalizing.waiting': [reserved, paid, { error: 'fulfilOrder' }],
    'compensating.voiding': [reserved, paid, { error: 'fulfilOrder' }, due, { error: 'fulfilOrder' }, due, { error: 'fulfilOrder' }],
    'releasing.releasingStock': [reserved, declined],
    'releasing.waiting': [reserved, declined, { error: 'releaseStock' }],
    completed,
    'cancelling.refunding': [...completed, cancel],
    'cancelling.checking': [...completed, cancel, { done: 'refundPayment', output: { kind: 'unknown', reason: 'x' } }],
    'cancelling.waiting': [...completed, cancel, { done: 'refundPayment', output: { kind: 'unknown', reason: 'x' } }, inquiry(found('PAID'))],
    'cancelling.returningStock.releasingStock': [...completed, { ...cancel, amount: 30_000 }, { done: 'refundPayment', output: { kind: 'refunded' } }],
    'cancelling.returningStock.waiting': [...completed, { ...cancel, amount: 30_000 }, { done: 'refundPayment', output: { kind: 'refunded' } }, { error: 'releaseStock' }],
    partially_cancelled: [...completed, cancel, { done: 'refundPayment', output: { kind: 'refunded' } }],
    rejected: [{ done: 'reserveStock', output: { kind: 'out_of_stock' } }],
    'failed.closed': [reserved, declined, { done: 'releaseStock' }],
    'failed.watching': unanswered,
    'failed.checking': [...unanswered, due],
    'voidingLateCharge.voiding': [...unanswered, pgStatus(found('PAID'))],
    requires_attention: [reserved, paid, { error: 'fulfilOrder' }, due, { error: 'fulfilOrder' }, due, { error: 'fulfilOrder' }, { done: 'voidCharge', output: { kind: 'refused', code: 'X' } }],
  };

  it.each(Object.entries(paths))('%s survives a JSON round trip', (path, steps) => {
    const { snapshot } = drive(...steps);
    expect(statePath(snapshot.value)).toBe(path);
    const persisted = JSON.parse(JSON.stringify(inert.getPersistedSnapshot(snapshot)));
    const actor = createActor(inert, { snapshot: persisted, input: input }).start();
    const restored = actor.getSnapshot();
    expect(statePath(restored.value)).toBe(path);
    expect(restored.context).toEqual(snapshot.context);
    expect(publicStatusOf(restored)).toBe(publicStatusOf(snapshot));
    // A step in progress is started again on restore: its actor must be idempotent (rule 3).
    const children = Object.keys(restored.children as Record<string, AnyActorRef | undefined>);
    const midStep = !snapshot.hasTag(WAITING) && !snapshot.hasTag(RESTING);
    expect(children.length).toBe(midStep ? 1 : 0);
    actor.stop();
  });
});
