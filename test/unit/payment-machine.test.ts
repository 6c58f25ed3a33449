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
type Step = { done: string; output?: unknown } | { error: string } | { type: 'timer.due' };

function toEvent(step: Step) {
  if ('done' in step) return { type: `xstate.done.actor.${step.done}`, output: step.output } as never;
  if ('error' in step) return { type: `xstate.error.actor.${step.error}`, error: new Error('boom') } as never;
  return step;
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

  it('ignores a timer that fires when nothing waits', () => {
    const { snapshot } = drive(reserved, due);
    expect(snapshot.value).toBe('charging');
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
    const midStep = snapshot.hasTag('processing') && !snapshot.hasTag(WAITING);
    expect(children.length).toBe(midStep ? 1 : 0);
    actor.stop();
  });
});
