import { pino } from 'pino';
import { beforeEach, describe, expect, it } from 'vitest';
import { fromPromise, initialTransition, transition } from 'xstate';
import { listCancellations } from '../../db/cancellations-repo.ts';
import type { Database } from '../../db/connection.ts';
import type { GroupCommit } from '../../db/group-commit.ts';
import { IdempotencyKeyHeld, listTransitions } from '../../db/payments-repo.ts';
import {
  paymentMachine,
  type RefundInput,
  type RefundOutput,
  type RetryPolicy,
} from '../../machines/payment.machine.ts';
import { insertProduct } from '../../db/products-repo.ts';
import { statePath } from '../../machines/payment-status.ts';
import { createOpsStore } from '../../src/ops-store.ts';
import { PaymentHost } from '../../src/payments/payment-host.ts';
import { OrderCache } from '../../src/payments/order-cache.ts';
import { recordTransitionEffects } from '../../src/payments/transition-effects.ts';
import { inertPaymentMachine } from '../support/inert-payment-machine.ts';
import { insertPaymentRow, newPaymentFields } from '../support/payment-rows.ts';
import { refuseWrites } from '../support/refuse-writes.ts';
import { useTempDatabase } from '../support/temp-database.ts';

/**
 * The actor host on a real database (the run's dialect), with steps that answer at once or
 * never, and a group commit the test holds back: what it writes when several transitions
 * share a write.
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
let db: Database;
beforeEach(async () => {
  db = await database.connect();
});

/**
 * Jobs queued once `holding()` is true wait until `release()`, then all go to the real
 * group commit in one tick: one write. Those queued before (taking the payment's lease to
 * bring it into memory) commit at once.
 */
function heldCommit(real: GroupCommit, holding: () => boolean): GroupCommit & { release(): void } {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const held = <T>(job: () => Promise<T>): Promise<T> => (holding() ? gate.then(job) : job());
  return {
    run: (work) => held(() => real.run(work)),
    flush: () => held(() => real.flush()),
    release,
  };
}

const machine = inertPaymentMachine({
  refundPayment: fromPromise<RefundOutput, RefundInput>(async () => ({ kind: 'refunded', cancelledAt: null })),
});

function hostWith(commit: GroupCommit): PaymentHost {
  return new PaymentHost({
    db: { ...db, commit },
    machine,
    clock: () => NOW,
    logger: pino({ level: 'silent' }),
    ops: createOpsStore(),
    owner: OWNER,
    leaseTtlMs: 30_000,
    orders: new OrderCache(db.read),
    readSnapshot: (json) => JSON.parse(json),
    onTransitions: recordTransitionEffects,
  });
}

/** A payment row committed in the state the steps lead to, with no lease. */
async function storedPayment(id: string, steps: Array<Record<string, unknown>>, lease?: { owner: string; expiresAt: number }): Promise<void> {
  let [snapshot] = initialTransition(paymentMachine, { paymentId: id, amount: 30_000, retry });
  for (const event of steps) [snapshot] = transition(paymentMachine, snapshot, event as never);
  await db.commit.run((tx) =>
    insertPaymentRow(tx, id, statePath(snapshot.value), {
      status: 'completed',
      snapshot: JSON.stringify(paymentMachine.getPersistedSnapshot(snapshot)),
      leaseOwner: lease?.owner ?? null,
      leaseExpiresAt: lease?.expiresAt ?? null,
      createdAt: NOW,
    }),
  );
}

const completedSteps = [
  { type: 'xstate.done.actor.reserveStock', output: { kind: 'reserved' } },
  { type: 'xstate.done.actor.chargePayment', output: { kind: 'paid', pgTxId: 'tx' } },
  { type: 'xstate.done.actor.fulfilOrder' },
];
const cancel = (id: string) => ({ type: 'api.cancel' as const, id, amount: 10_000, reason: 'r', idempotencyKey: `key-${id}`, fingerprint: 'f' });
const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

/**
 * A completed payment in memory with a refund accepted, and a host whose writes are held
 * from the moment the payment is in memory (its lease is taken before): the refund's
 * write waits for `commit.release()`.
 */
async function refundHeld(id: string, cancelId: string): Promise<{ host: PaymentHost; commit: ReturnType<typeof heldCommit> }> {
  await storedPayment(id, completedSteps);
  const commit = heldCommit(db.commit, () => host.isLive(id));
  const host = hostWith(commit);
  expect(await host.offer(id, cancel(cancelId))).toBe('accepted');
  await tick();
  return { host, commit };
}

describe('the payment host', () => {
  it('records every refund when one finishes and the next is accepted in the same write', async () => {
    // Refund A is accepted and lands, refund B is accepted and lands: four transitions, one write.
    const { host, commit } = await refundHeld('pay_two', 'can_a');
    expect(await host.offer('pay_two', cancel('can_b'))).toBe('accepted');
    await tick();
    commit.release();
    await host.committed();

    expect((await listCancellations(db.read, 'pay_two')).map((c) => [c.id, c.status])).toEqual([
      ['can_a', 'succeeded'],
      ['can_b', 'succeeded'],
    ]);
    const row = await db.read.get('select state, cancelled_amount as cancelled from payments where id = @id', { id: 'pay_two' });
    expect(row).toEqual({ state: 'partially_cancelled', cancelled: 20_000 });
    await host.stop();
  });

  it('writes its transitions once when the batch runs again without a job that threw', async () => {
    const { host, commit } = await refundHeld('pay_again', 'can_a');
    // Queued after the host's write, in the same batch: it throws, and the batch runs again without it.
    const refused = commit.run(async (tx) => {
      await tx.run("insert into locks (name, owner, expires_at) values ('refused', 'test', 0)");
      throw new Error('refused');
    });

    commit.release();
    await expect(refused).rejects.toThrow('refused');
    await host.committed();

    expect((await listTransitions(db.read, 'pay_again')).map((t) => [t.seq, t.toState])).toEqual([
      [1, 'completed'],
      [2, 'cancelling.refunding'],
      [3, 'partially_cancelled'],
    ]);
    expect((await listCancellations(db.read, 'pay_again')).map((c) => c.status)).toEqual(['succeeded']);
    expect(await db.read.get("select name from locks where name = 'refused'")).toBeUndefined();
    await host.stop();
  });

  it('refuses a payment whose idempotency key another holds, committing nothing; the rest of its batch commits once', async () => {
    const host = hostWith(db.commit);
    const payment = (id: string) => ({ ...newPaymentFields(id, NOW), idempotencyKey: 'key-shared' });
    const input = (id: string) => ({ paymentId: id, amount: 30_000, retry });

    // One batch: a neighbour's write, the winner and the loser of the race.
    const outcomes = await Promise.allSettled([
      db.commit.run((tx) => insertProduct(tx, { id: 'book-neighbour', name: 'A book', price: 15_000, stock: 1, partnerId: 'p-1', createdAt: 1 })),
      host.create(payment('pay_first'), input('pay_first')),
      host.create(payment('pay_second'), input('pay_second')),
    ]);

    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'fulfilled', 'rejected']);
    expect((outcomes[2] as PromiseRejectedResult).reason).toBeInstanceOf(IdempotencyKeyHeld);
    expect(await db.read.all("select stock from products where id = 'book-neighbour'")).toEqual([{ stock: 1 }]);
    expect(host.isLive('pay_second')).toBe(false);
    expect(await listTransitions(db.read, 'pay_second')).toEqual([]);
    expect(await db.read.all('select id from payments')).toEqual([{ id: 'pay_first' }]);
    await host.stop();
  });

  it('renews the leases of the payments it runs, not those it dropped', async () => {
    // Fulfilment never answers: the actor stays in memory. Another row is leased to us but not run here.
    await storedPayment('pay_running', completedSteps.slice(0, 2));
    await storedPayment('pay_dropped', completedSteps, { owner: OWNER, expiresAt: NOW + 5 });
    const host = hostWith(db.commit);
    expect(await host.resume('pay_running')).toBe(true);
    await host.committed();

    await host.renewLeases();

    const lease = async (id: string) =>
      (await db.read.get<{ expiresAt: number }>('select lease_expires_at as "expiresAt" from payments where id = @id', { id }))?.expiresAt;
    expect(await lease('pay_running')).toBe(NOW + 30_000);
    expect(await lease('pay_dropped')).toBe(NOW + 5);
    await host.stop();
  });

  it('gives up the leases of the payments that came to rest, each release naming every payment that left memory since the one before', async () => {
    const ids = ['pay_rest_a', 'pay_rest_b', 'pay_rest_c'];
    for (const id of ids) await storedPayment(id, completedSteps);
    const released: string[][] = [];
    const recording: GroupCommit = {
      ...db.commit,
      run: (work) =>
        db.commit.run((tx) =>
          work({
            ...tx,
            run: (text, params) => {
              if (text.includes('lease_owner = null')) released.push(JSON.parse(params!.ids as string) as string[]);
              return tx.run(text, params);
            },
          }),
        ),
    };
    const host = hostWith(recording);
    const leaseOwner = async (id: string) =>
      (await db.read.get<{ owner: string | null }>('select lease_owner as owner from payments where id = @id', { id }))?.owner;

    // Each is brought into memory (its lease taken), refunded in part, and comes to rest.
    await Promise.all(ids.map((id) => host.deliver(id, cancel(`can_${id}`))));
    await host.committed();
    await db.commit.flush();

    expect(released.flat().sort()).toEqual(ids);
    for (const id of ids) expect(await leaseOwner(id)).toBeNull();
    await host.stop();
  });

  it('commits an actor’s queued write when it stops, and only then gives up its lease', async () => {
    const { host, commit } = await refundHeld('pay_stop', 'can_stop');

    const stopped = host.stop();
    await tick();
    commit.release();
    await stopped;

    const row = await db.read.get('select state, lease_owner as owner from payments where id = @id', { id: 'pay_stop' });
    expect(row).toEqual({ state: 'partially_cancelled', owner: null });
    expect((await listCancellations(db.read, 'pay_stop')).map((c) => c.status)).toEqual(['succeeded']);
  });

  it('says when the write an event caused was refused, so the caller reports no change', async () => {
    await storedPayment('pay_refused', completedSteps);
    // A change of state only: taking the lease to bring the payment into memory still commits.
    const allow = await refuseWrites(db, {
      table: 'payments',
      event: 'UPDATE',
      message: 'disk says no',
      when: "OLD.state = 'completed' AND NEW.state <> OLD.state",
    });
    const host = hostWith(db.commit);

    expect(await host.deliver('pay_refused', cancel('can_x'))).toBe('not_committed');
    expect(host.isLive('pay_refused')).toBe(false);
    expect(await db.read.get('select state from payments where id = @id', { id: 'pay_refused' })).toEqual({ state: 'completed' });
    expect(await listCancellations(db.read, 'pay_refused')).toEqual([]);

    await allow();
    expect(await host.deliver('pay_refused', { type: 'timer.due' })).toBe('refused');
    expect(await host.deliver('pay_nope', cancel('can_y'))).toBe('unavailable');
    await host.stop();
  });
});
