import { describe, expect, it } from 'vitest';
import { createActor, fromPromise, initialTransition, transition, type AnyActorRef } from 'xstate';
import { paymentMachine, type PgRecord, type RetryPolicy } from '../../machines/payment.machine.ts';
import { publicStatusOf, RESTING, statePath, WAITING } from '../../machines/payment-status.ts';

const retry: RetryPolicy = {
  baseMs: 100,
  capMs: 1_000,
  stepRetries: 2,
  notFoundGraceMs: 500,
  maxCharges: 2,
  refundRetries: 2,
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

/** The alerts a transition raises. */
function alerts(actions: Action[]): Array<{ severity: string; title: string }> {
  return actions
    .filter((a) => (a.type as string) === 'xstate.emit')
    .map((a) => (a as unknown as { params: { event: { severity: string; title: string } } }).params.event);
}

const found = (status: string, paidAmount = 30_000, cancelledAmount = 0): PgRecord =>
  ({ kind: 'found', status, pgTxId: 'tx-pg', paidAmount, cancelledAmount }) as PgRecord;
const reserved = { done: 'reserveStock', output: { kind: 'reserved' } };
const paid = { done: 'chargePayment', output: { kind: 'paid', pgTxId: 'tx-1' } };
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
    expect(snapshot.value).toBe('charging');
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

  it('asks the PG when the charge outcome is unknown, or the charge step throws', () => {
    const { snapshot, actions } = drive(reserved, unknownCharge);
    expect(snapshot.value).toEqual({ inquiring: 'checking' });
    expect(snapshot.context.chargeUnanswered).toBe(true);
    expect(publicStatusOf(snapshot)).toBe('processing');
    expect(started(actions)).toEqual([{ src: 'inquirePgStatus', input: { paymentId: 'pay_test' } }]);
    expect(drive(reserved, { error: 'chargePayment' }).snapshot.value).toEqual({ inquiring: 'checking' });
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
    expect(snapshot.value).toBe('charging');
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
    expect(drive(reserved, pgStatus(found('FAILED', 0))).snapshot.value).toBe('charging');
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
    expect(drive(reserved, due).snapshot.value).toBe('charging');
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
    expect(started(actions)).toEqual([{ src: 'voidCharge', input: { paymentId: 'pay_test', amount: 30_000, fromState: 'compensating' } }]);
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
      { src: 'voidCharge', input: { paymentId: 'pay_test', amount: 30_000, fromState: 'voidingLateCharge' } },
    ]);
    const { snapshot } = drive(...gaveUp, due, inquiry(found('PAID')), { done: 'voidCharge', output: { kind: 'voided' } });
    expect(snapshot.value).toBe('cancelled');
    expect(snapshot.context).toMatchObject({ failureCode: 'late_charge_voided', cancelledAmount: 30_000 });
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

  it('sends a refund the PG never saw again after the grace, then hands it to an operator', () => {
    const steps: Step[] = [...completed, cancel(10_000), noAnswer];
    const sends = [1];
    for (;;) {
      const { snapshot } = drive(...steps, inquiry(found('PAID')));
      if (snapshot.value === 'requires_attention') break;
      if (statePath(snapshot.value) === 'cancelling.refunding') {
        sends.push(snapshot.context.refundCalls);
        steps.push(inquiry(found('PAID')), noAnswer);
      } else {
        steps.push(inquiry(found('PAID')), due);
      }
    }
    expect(sends).toEqual([1, 2, 3]);
    const { snapshot } = drive(...steps, inquiry(found('PAID')));
    expect(snapshot.context).toMatchObject({ attentionStep: 'refunding', failureCode: 'compensation_failed' });
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
    // A stuck release after a decline: no money was ever taken.
    const neverCharged = drive(...releaseBroken, resolve('cancelled'), { done: 'releaseStock' });
    expect(neverCharged.snapshot.value).toBe('cancelled');
    expect(neverCharged.snapshot.context.cancelledAmount).toBe(0);
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
  // Steps that never settle, so a restored actor stays in the state it was restored to.
  const never = fromPromise<never, unknown>(() => new Promise<never>(() => {})) as never;
  const inert = paymentMachine.provide({
    actors: {
      reserveStock: never,
      chargePayment: never,
      inquirePgStatus: never,
      fulfilOrder: never,
      voidCharge: never,
      releaseStock: never,
      refundPayment: never,
    },
  });
  const cancel = { type: 'api.cancel', id: 'c', amount: 1, reason: 'r', idempotencyKey: 'k', fingerprint: 'f' };
  const completed: Step[] = [reserved, paid, { done: 'fulfilOrder' }];
  const unanswered: Step[] = [reserved, unknownCharge, inquiry(found('FAILED', 0)), { done: 'releaseStock' }];
  const paths: Record<string, Step[]> = {
    'reserving.reservingStock': [],
    'reserving.waiting': [{ error: 'reserveStock', retryable: true }],
    charging: [reserved],
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
