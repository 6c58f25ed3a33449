import { describe, expect, it } from 'vitest';
import { createActor, fromPromise, initialTransition, transition, type AnyActorRef } from 'xstate';
import { paymentMachine, type RetryPolicy } from '../../machines/payment.machine.ts';
import { publicStatusOf, RESTING, statePath, WAITING } from '../../machines/payment-status.ts';

const retry: RetryPolicy = {
  baseMs: 100,
  capMs: 1_000,
  stepRetries: 2,
  notFoundGraceMs: 500,
  maxCharges: 2,
  refundRetries: 2,
  refundQueueDelayMs: 5_000,
};
const input = { paymentId: 'pay_test', amount: 30_000, retry };

type Snapshot = ReturnType<typeof initialTransition<typeof paymentMachine>>[0];
type Action = ReturnType<typeof initialTransition<typeof paymentMachine>>[1][number];
// Events XState sends itself when an invoked actor settles.
type Step = { done: string; output?: unknown } | { error: string } | { type: string; [key: string]: unknown };

function toEvent(step: Step) {
  if ('done' in step) return { type: `xstate.done.actor.${step.done}`, output: step.output } as never;
  if ('error' in step) return { type: `xstate.error.actor.${step.error}`, error: new Error('boom') } as never;
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

const reserved = { done: 'reserveStock', output: { kind: 'reserved' } };
const paid = { done: 'chargePayment', output: { kind: 'paid', pgTxId: 'tx-1' } };
const unknownCharge = { done: 'chargePayment', output: { kind: 'unknown', reason: 'timeout' } };
const inquiry = (output: unknown) => ({ done: 'inquirePgStatus', output });
const due = { type: 'timer.due' } as const;

describe('payment machine', () => {
  it('starts by reserving stock', () => {
    const { snapshot, actions } = drive();
    expect(snapshot.value).toBe('reserving');
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

  it('rejects when the reservation itself fails', () => {
    const { snapshot } = drive({ error: 'reserveStock' });
    expect(snapshot.value).toBe('rejected');
    expect(snapshot.context.failureCode).toBe('reservation_failed');
  });

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

  it('releases the stock of a declined charge and fails', () => {
    const declined = drive(reserved, { done: 'chargePayment', output: { kind: 'declined', code: 'card_declined' } });
    expect(declined.snapshot.value).toEqual({ releasing: 'releasingStock' });
    expect(declined.snapshot.context.failureCode).toBe('card_declined');
    expect(started(declined.actions)).toEqual([{ src: 'releaseStock', input: { paymentId: 'pay_test' } }]);

    const { snapshot } = drive(reserved, { done: 'chargePayment', output: { kind: 'declined', code: 'card_declined' } }, { done: 'releaseStock' });
    expect(snapshot.value).toBe('failed');
    expect(publicStatusOf(snapshot)).toBe('failed');
  });

  it('asks the PG when the charge outcome is unknown', () => {
    const { snapshot, actions } = drive(reserved, unknownCharge);
    expect(snapshot.value).toEqual({ inquiring: 'checking' });
    expect(publicStatusOf(snapshot)).toBe('processing');
    expect(started(actions)).toEqual([{ src: 'inquirePgStatus', input: { paymentId: 'pay_test' } }]);
  });

  it('treats a charge actor that throws as an unknown outcome', () => {
    const { snapshot } = drive(reserved, { error: 'chargePayment' });
    expect(snapshot.value).toEqual({ inquiring: 'checking' });
  });

  it('finalizes when the inquiry finds the payment paid', () => {
    const { snapshot } = drive(reserved, unknownCharge, inquiry({ kind: 'paid', pgTxId: 'tx-9' }));
    expect(snapshot.value).toEqual({ finalizing: 'fulfilling' });
    expect(snapshot.context.pgTxId).toBe('tx-9');
  });

  it('releases when the inquiry finds the payment failed', () => {
    const { snapshot } = drive(reserved, unknownCharge, inquiry({ kind: 'failed' }));
    expect(snapshot.value).toEqual({ releasing: 'releasingStock' });
    expect(snapshot.context.failureCode).toBe('charge_failed');
  });

  it('waits with a jittered backoff while the PG says pending, then asks again', () => {
    const waiting = drive(reserved, unknownCharge, inquiry({ kind: 'pending' }));
    expect(waiting.snapshot.value).toEqual({ inquiring: 'waiting' });
    expect(waiting.snapshot.hasTag(WAITING)).toBe(true);
    expect(waiting.snapshot.context.inquiryAttempts).toBe(1);
    expect(waiting.snapshot.context.waitMs).toBeGreaterThanOrEqual(0);
    expect(waiting.snapshot.context.waitMs).toBeLessThanOrEqual(retry.baseMs);
    expect(started(waiting.actions)).toEqual([]);

    const again = drive(reserved, unknownCharge, inquiry({ kind: 'pending' }), due);
    expect(again.snapshot.value).toEqual({ inquiring: 'checking' });
    expect(started(again.actions)).toEqual([{ src: 'inquirePgStatus', input: { paymentId: 'pay_test' } }]);
  });

  it('keeps asking (never charges blindly) when the inquiry itself fails', () => {
    const { snapshot } = drive(reserved, unknownCharge, { error: 'inquirePgStatus' });
    expect(snapshot.value).toEqual({ inquiring: 'waiting' });
    const unknownAnswer = drive(reserved, unknownCharge, inquiry({ kind: 'unknown', reason: 'timeout' }));
    expect(unknownAnswer.snapshot.value).toEqual({ inquiring: 'waiting' });
  });

  it('waits out the grace period when the PG does not know the charge yet', () => {
    const { snapshot } = drive(reserved, unknownCharge, inquiry({ kind: 'not_found' }));
    expect(snapshot.value).toEqual({ inquiring: 'waiting' });
  });

  /** Not-found answers until the summed waits pass the grace period. */
  function notFoundPastGrace(): Step[] {
    const steps: Step[] = [reserved, unknownCharge];
    let { snapshot } = drive(...steps);
    while (snapshot.context.inquiryWaitedMs < retry.notFoundGraceMs) {
      steps.push(inquiry({ kind: 'not_found' }), due);
      ({ snapshot } = drive(...steps));
    }
    return steps;
  }

  it('charges again with the next attempt number when the PG never saw the charge', () => {
    const { snapshot, actions } = drive(...notFoundPastGrace(), inquiry({ kind: 'not_found' }));
    expect(snapshot.value).toBe('charging');
    expect(snapshot.context.chargeAttempts).toBe(2);
    expect(started(actions)).toEqual([{ src: 'chargePayment', input: { paymentId: 'pay_test', attempt: 2 } }]);
  });

  it('gives up and releases when the last allowed charge never reached the PG', () => {
    const first = notFoundPastGrace();
    const steps: Step[] = [...first, inquiry({ kind: 'not_found' }), unknownCharge];
    let { snapshot } = drive(...steps);
    while (snapshot.context.inquiryWaitedMs < retry.notFoundGraceMs) {
      steps.push(inquiry({ kind: 'not_found' }), due);
      ({ snapshot } = drive(...steps));
    }
    ({ snapshot } = drive(...steps, inquiry({ kind: 'not_found' })));
    expect(snapshot.context.chargeAttempts).toBe(retry.maxCharges);
    expect(snapshot.value).toEqual({ releasing: 'releasingStock' });
    expect(snapshot.context.failureCode).toBe('charge_not_received');
  });

  it('retries a failing fulfilment after a wait', () => {
    const { snapshot } = drive(reserved, paid, { error: 'fulfilOrder' });
    expect(snapshot.value).toEqual({ finalizing: 'waiting' });
    expect(snapshot.context.stepAttempts).toBe(1);
    const retried = drive(reserved, paid, { error: 'fulfilOrder' }, due);
    expect(retried.snapshot.value).toEqual({ finalizing: 'fulfilling' });
  });

  const fulfilmentExhausted: Step[] = [reserved, paid, { error: 'fulfilOrder' }, due, { error: 'fulfilOrder' }, due, { error: 'fulfilOrder' }];

  it('voids the charge when fulfilment keeps failing after payment', () => {
    const { snapshot, actions } = drive(...fulfilmentExhausted);
    expect(snapshot.value).toEqual({ compensating: 'voiding' });
    expect(snapshot.context.failureCode).toBe('fulfilment_failed');
    expect(started(actions)).toEqual([{ src: 'voidCharge', input: { paymentId: 'pay_test', amount: 30_000 } }]);
  });

  it('releases the stock after a void and ends cancelled', () => {
    const { snapshot } = drive(...fulfilmentExhausted, { done: 'voidCharge', output: { kind: 'voided' } }, { done: 'releaseStock' });
    expect(snapshot.value).toBe('cancelled');
    expect(publicStatusOf(snapshot)).toBe('cancelled');
    expect(snapshot.context.failureCode).toBe('fulfilment_failed');
  });

  it('needs an operator when the PG refuses the void', () => {
    const { snapshot } = drive(...fulfilmentExhausted, { done: 'voidCharge', output: { kind: 'refused', code: 'PAYMENT_NOT_PAID' } });
    expect(snapshot.value).toBe('requires_attention');
    expect(publicStatusOf(snapshot)).toBe('requires_attention');
    expect(snapshot.context.attentionStep).toBe('voiding');
    expect(snapshot.context.failureCode).toBe('compensation_failed');
  });

  it('retries an unanswered void, then needs an operator', () => {
    const unanswered = { done: 'voidCharge', output: { kind: 'unknown', reason: 'timeout' } };
    const once = drive(...fulfilmentExhausted, unanswered);
    expect(once.snapshot.value).toEqual({ compensating: 'waiting' });
    const { snapshot } = drive(...fulfilmentExhausted, unanswered, due, unanswered, due, unanswered);
    expect(snapshot.value).toBe('requires_attention');
    expect(snapshot.context.attentionStep).toBe('voiding');
  });

  it('retries a failing release, then needs an operator and keeps the stock reserved', () => {
    const declined = { done: 'chargePayment', output: { kind: 'declined', code: 'card_declined' } };
    const once = drive(reserved, declined, { error: 'releaseStock' });
    expect(once.snapshot.value).toEqual({ releasing: 'waiting' });
    const { snapshot, actions } = drive(reserved, declined, { error: 'releaseStock' }, due, { error: 'releaseStock' }, due, { error: 'releaseStock' });
    expect(snapshot.value).toBe('requires_attention');
    expect(snapshot.context.attentionStep).toBe('releasing');
    expect(started(actions)).toEqual([]);
  });

  it('finalizes at once when the PG reports the charge paid while our call is pending', () => {
    const { snapshot, actions } = drive(reserved, { type: 'pg.status', result: { kind: 'paid', pgTxId: 'tx-w' } });
    expect(snapshot.value).toEqual({ finalizing: 'fulfilling' });
    expect(snapshot.context.pgTxId).toBe('tx-w');
    expect(started(actions).map((a) => a.src)).toEqual(['fulfilOrder']);
  });

  it('ignores a PG failure report while the charge call is pending', () => {
    const { snapshot } = drive(reserved, { type: 'pg.status', result: { kind: 'failed' } });
    expect(snapshot.value).toBe('charging');
  });

  it('acts on PG reports during inquiry, even while hibernating', () => {
    const waiting: Step[] = [reserved, unknownCharge, inquiry({ kind: 'pending' })];
    const paidNow = drive(...waiting, { type: 'pg.status', result: { kind: 'paid', pgTxId: 'tx-h' } });
    expect(paidNow.snapshot.value).toEqual({ finalizing: 'fulfilling' });
    const failedNow = drive(...waiting, { type: 'pg.status', result: { kind: 'failed' } });
    expect(failedNow.snapshot.value).toEqual({ releasing: 'releasingStock' });
    expect(failedNow.snapshot.context.failureCode).toBe('charge_failed');
    const stillPending = drive(...waiting, { type: 'pg.status', result: { kind: 'pending' } });
    expect(stillPending.snapshot.value).toEqual({ inquiring: 'waiting' });
  });

  it('ignores PG reports once the payment has moved past the charge', () => {
    const { snapshot } = drive(reserved, paid, { done: 'fulfilOrder' }, { type: 'pg.status', result: { kind: 'failed' } });
    expect(snapshot.value).toBe('completed');
  });

  it('ignores a timer that fires when nothing waits', () => {
    const { snapshot } = drive(reserved, due);
    expect(snapshot.value).toBe('charging');
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

  it('refuses a cancel of more than is left, or of nothing', () => {
    expect(drive(...completed, cancel(30_001)).snapshot.value).toBe('completed');
    expect(drive(...completed, cancel(0)).snapshot.value).toBe('completed');
  });

  it('refunds money only when a partial cancel leaves money on the payment', () => {
    const { snapshot, actions } = drive(...completed, cancel(10_000), refunded);
    expect(snapshot.value).toBe('partially_cancelled');
    expect(publicStatusOf(snapshot)).toBe('partially_cancelled');
    expect(snapshot.context.cancelledAmount).toBe(10_000);
    expect(started(actions)).toEqual([]);
  });

  it('returns the stock once partial cancels bring the payment to zero', () => {
    const steps: Step[] = [...completed, cancel(10_000), refunded, cancel(20_000, 'can_2')];
    const second = drive(...steps);
    expect(started(second.actions)[0]?.input).toMatchObject({ amount: 20_000, cancelledTotal: 30_000, pgIdempotencyKey: 'pay_test:cancel:2' });
    const last = drive(...steps, refunded);
    expect(last.snapshot.value).toEqual({ releasing: 'releasingStock' });
    expect(last.snapshot.context.cancelledAmount).toBe(30_000);
    const { snapshot } = drive(...steps, refunded, { done: 'releaseStock' });
    expect(snapshot.value).toBe('cancelled');
    expect(snapshot.context.failureCode).toBeNull();
  });

  it('returns the stock of a full cancel', () => {
    const { snapshot } = drive(...completed, cancel(30_000), refunded, { done: 'releaseStock' });
    expect(snapshot.value).toBe('cancelled');
    expect(snapshot.context.cancelledAmount).toBe(30_000);
  });

  it('takes no cancel while one is in flight', () => {
    expect(drive(...completed, cancel(10_000), cancel(5_000, 'can_2')).snapshot.context.cancel?.id).toBe('can_1');
  });

  it('retries an unanswered refund twice, then once from the retry queue, then gives up', () => {
    const first = drive(...completed, cancel(30_000), noAnswer);
    expect(first.snapshot.value).toEqual({ cancelling: 'retrying' });
    expect(first.snapshot.hasTag(WAITING)).toBe(true);

    const queued = drive(...completed, cancel(30_000), noAnswer, due, noAnswer, due, noAnswer);
    expect(queued.snapshot.value).toEqual({ cancelling: 'queued' });
    expect(queued.snapshot.context.waitMs).toBe(retry.refundQueueDelayMs);

    const { snapshot } = drive(...completed, cancel(30_000), noAnswer, due, noAnswer, due, noAnswer, due, noAnswer);
    expect(snapshot.value).toBe('requires_attention');
    expect(snapshot.context.attentionStep).toBe('refunding');
    expect(snapshot.context.attentionReason).toBe('pg_no_answer:timeout');
  });

  it('needs an operator at once when the PG refuses the refund', () => {
    const { snapshot } = drive(...completed, cancel(30_000), { done: 'refundPayment', output: { kind: 'refused', code: 'PAYMENT_NOT_PAID' } });
    expect(snapshot.value).toBe('requires_attention');
    expect(snapshot.context.attentionReason).toBe('pg_refused:PAYMENT_NOT_PAID');
  });
});

describe('operator actions', () => {
  const action = { failedEventId: '7', actor: 'ops@example', reason: 'PG is back' };
  const voidRefused = [reserved, paid, { error: 'fulfilOrder' }, due, { error: 'fulfilOrder' }, due, { error: 'fulfilOrder' }, { done: 'voidCharge', output: { kind: 'refused', code: 'X' } }] as Step[];
  const releaseBroken = [reserved, { done: 'chargePayment', output: { kind: 'declined', code: 'card_declined' } }, { error: 'releaseStock' }, due, { error: 'releaseStock' }, due, { error: 'releaseStock' }] as Step[];

  it('sends a retried payment back into the step that failed', () => {
    const voiding = drive(...voidRefused, { type: 'admin.retry', ...action });
    expect(voiding.snapshot.value).toEqual({ compensating: 'voiding' });
    expect(voiding.snapshot.context.failureCode).toBe('fulfilment_failed');
    expect(started(voiding.actions).map((a) => a.src)).toEqual(['voidCharge']);

    const releasing = drive(...releaseBroken, { type: 'admin.retry', ...action });
    expect(releasing.snapshot.value).toEqual({ releasing: 'releasingStock' });
    expect(releasing.snapshot.context.failureCode).toBe('card_declined');
    expect(releasing.snapshot.context.stepAttempts).toBe(0);
  });

  it('keeps an ignored payment where it is', () => {
    const { snapshot } = drive(...voidRefused, { type: 'admin.ignore', ...action });
    expect(snapshot.value).toBe('requires_attention');
    expect(snapshot.context.attentionReason).toBe('ignored by ops@example: PG is back');
  });

  it('takes operator actions only from a payment that needs attention', () => {
    const { snapshot } = drive(reserved, paid, { done: 'fulfilOrder' }, { type: 'admin.retry', ...action });
    expect(snapshot.value).toBe('completed');
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
  const declined = { done: 'chargePayment', output: { kind: 'declined', code: 'card_declined' } };
  const paths: Record<string, Step[]> = {
    reserving: [],
    charging: [reserved],
    'inquiring.checking': [reserved, unknownCharge],
    'inquiring.waiting': [reserved, unknownCharge, inquiry({ kind: 'pending' })],
    'finalizing.fulfilling': [reserved, paid],
    'finalizing.waiting': [reserved, paid, { error: 'fulfilOrder' }],
    'compensating.voiding': [reserved, paid, { error: 'fulfilOrder' }, due, { error: 'fulfilOrder' }, due, { error: 'fulfilOrder' }],
    'releasing.releasingStock': [reserved, declined],
    'releasing.waiting': [reserved, declined, { error: 'releaseStock' }],
    completed: [reserved, paid, { done: 'fulfilOrder' }],
    'cancelling.refunding': [reserved, paid, { done: 'fulfilOrder' }, { type: 'api.cancel', id: 'c', amount: 1, reason: 'r', idempotencyKey: 'k', fingerprint: 'f' }],
    partially_cancelled: [reserved, paid, { done: 'fulfilOrder' }, { type: 'api.cancel', id: 'c', amount: 1, reason: 'r', idempotencyKey: 'k', fingerprint: 'f' }, { done: 'refundPayment', output: { kind: 'refunded' } }],
    rejected: [{ done: 'reserveStock', output: { kind: 'out_of_stock' } }],
    failed: [reserved, declined, { done: 'releaseStock' }],
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
    // An in-flight step is started again on restore: its actor must be idempotent (rule 3).
    const children = Object.keys(restored.children as Record<string, AnyActorRef | undefined>);
    const midStep = (snapshot.hasTag('processing') || snapshot.hasTag('cancel_requested')) && !snapshot.hasTag(WAITING);
    expect(children.length).toBe(midStep ? 1 : 0);
    actor.stop();
  });
});
