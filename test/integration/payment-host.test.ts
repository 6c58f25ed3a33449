import { pino } from 'pino';
import { beforeEach, describe, expect, it } from 'vitest';
import { fromPromise, initialTransition, transition } from 'xstate';
import { listCancellations } from '../../db/cancellations-repo.ts';
import type { Connection } from '../../db/connection.ts';
import { createGroupCommit, type GroupCommit } from '../../db/group-commit.ts';
import {
  paymentMachine,
  type RefundInput,
  type RefundOutput,
  type RetryPolicy,
} from '../../machines/payment.machine.ts';
import { statePath } from '../../machines/payment-status.ts';
import { createOpsStore } from '../../src/ops-store.ts';
import { PaymentHost } from '../../src/payments/payment-host.ts';
import { OrderCache } from '../../src/payments/order-cache.ts';
import { recordTransitionEffects } from '../../src/payments/transition-effects.ts';
import { inertPaymentMachine } from '../support/inert-payment-machine.ts';
import { insertPaymentRow } from '../support/payment-rows.ts';
import { useTempDatabase } from '../support/temp-database.ts';

/**
 * The actor host on a real SQLite file, with steps that answer at once or never, and a
 * group commit the test holds back: what it writes when several transitions share a write.
 */
const OWNER = 'this-process';
const NOW = 1_700_000_000_000;
const retry: RetryPolicy = {
  baseMs: 10,
  capMs: 10,
  stepRetries: 1,
  notFoundGraceMs: 10,
  maxCharges: 1,
  inquiryAlertAfterMs: 60_000,
  lateChargeWindowMs: 60_000,
  lateChargeChecks: 1,
};
const database = useTempDatabase('host');
let conn: Connection;
beforeEach(() => {
  conn = database.connect();
});

/** Jobs wait until `release()`, then all go to the real group commit in one tick: one write. */
function heldCommit(real: GroupCommit): GroupCommit & { release(): void } {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  return {
    run: (work) => gate.then(() => real.run(work)),
    flush: () => gate.then(() => real.flush()),
    release,
  };
}

const machine = inertPaymentMachine({
  refundPayment: fromPromise<RefundOutput, RefundInput>(async () => ({ kind: 'refunded', cancelledAt: null })),
});

function hostWith(commit: GroupCommit): PaymentHost {
  return new PaymentHost({
    conn,
    commit,
    machine,
    clock: () => NOW,
    logger: pino({ level: 'silent' }),
    ops: createOpsStore(),
    owner: OWNER,
    leaseTtlMs: 30_000,
    orders: new OrderCache(conn.db),
    readSnapshot: (json) => JSON.parse(json),
    onTransitions: recordTransitionEffects,
  });
}

/** A payment row committed in the state the steps lead to, with no lease. */
function storedPayment(id: string, steps: Array<Record<string, unknown>>, lease?: { owner: string; expiresAt: number }): void {
  let [snapshot] = initialTransition(paymentMachine, { paymentId: id, amount: 30_000, retry });
  for (const event of steps) [snapshot] = transition(paymentMachine, snapshot, event as never);
  insertPaymentRow(conn.db, id, statePath(snapshot.value), {
    status: 'completed',
    snapshot: JSON.stringify(paymentMachine.getPersistedSnapshot(snapshot)),
    leaseOwner: lease?.owner ?? null,
    leaseExpiresAt: lease?.expiresAt ?? null,
    createdAt: NOW,
  });
}

const completedSteps = [
  { type: 'xstate.done.actor.reserveStock', output: { kind: 'reserved' } },
  { type: 'xstate.done.actor.chargePayment', output: { kind: 'paid', pgTxId: 'tx' } },
  { type: 'xstate.done.actor.fulfilOrder' },
];
const cancel = (id: string) => ({ type: 'api.cancel' as const, id, amount: 10_000, reason: 'r', idempotencyKey: `key-${id}`, fingerprint: 'f' });
const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

describe('the payment host', () => {
  it('records every refund when one finishes and the next is accepted in the same write', async () => {
    storedPayment('pay_two', completedSteps);
    const commit = heldCommit(createGroupCommit(conn.sqlite));
    const host = hostWith(commit);

    // Refund A is accepted and lands, refund B is accepted and lands: four transitions, one write.
    expect(host.offer('pay_two', cancel('can_a'))).toBe('accepted');
    await tick();
    expect(host.offer('pay_two', cancel('can_b'))).toBe('accepted');
    await tick();
    commit.release();
    await host.committed();

    expect(listCancellations(conn.db, 'pay_two').map((c) => [c.id, c.status])).toEqual([
      ['can_a', 'succeeded'],
      ['can_b', 'succeeded'],
    ]);
    const row = conn.sqlite.prepare('select state, cancelled_amount as cancelled from payments where id = ?').get('pay_two');
    expect(row).toEqual({ state: 'partially_cancelled', cancelled: 20_000 });
    await host.stop();
  });

  it('renews the leases of the payments it runs, not those it dropped', async () => {
    // Fulfilment never answers: the actor stays in memory. Another row is leased to us but not run here.
    storedPayment('pay_running', completedSteps.slice(0, 2));
    storedPayment('pay_dropped', completedSteps, { owner: OWNER, expiresAt: NOW + 5 });
    const host = hostWith(createGroupCommit(conn.sqlite));
    expect(host.resume('pay_running')).toBe(true);
    await host.committed();

    await host.renewLeases();

    const lease = (id: string) => conn.sqlite.prepare('select lease_expires_at from payments where id = ?').pluck().get(id);
    expect(lease('pay_running')).toBe(NOW + 30_000);
    expect(lease('pay_dropped')).toBe(NOW + 5);
    await host.stop();
  });

  it('says when the write an event caused was refused, so the caller reports no change', async () => {
    storedPayment('pay_refused', completedSteps);
    conn.sqlite.exec(`CREATE TRIGGER refuse BEFORE UPDATE OF state ON payments WHEN OLD.state = 'completed'
      BEGIN SELECT RAISE(ABORT, 'disk says no'); END`);
    const host = hostWith(createGroupCommit(conn.sqlite));

    expect(await host.deliver('pay_refused', cancel('can_x'))).toBe('not_committed');
    expect(host.isLive('pay_refused')).toBe(false);
    expect(conn.sqlite.prepare('select state from payments where id = ?').pluck().get('pay_refused')).toBe('completed');
    expect(listCancellations(conn.db, 'pay_refused')).toEqual([]);

    conn.sqlite.exec('DROP TRIGGER refuse');
    expect(await host.deliver('pay_refused', { type: 'timer.due' })).toBe('refused');
    expect(await host.deliver('pay_nope', cancel('can_y'))).toBe('unavailable');
    await host.stop();
  });
});
