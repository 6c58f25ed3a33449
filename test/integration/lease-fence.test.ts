import { beforeEach, describe, expect, it } from 'vitest';
import { markRefundCallStarted, upsertCancellation } from '../../db/cancellations-repo.ts';
import type { Database } from '../../db/connection.ts';
import { fulfilOrder } from '../../db/fulfilments-repo.ts';
import { LeaseLost, requireLease } from '../../db/lease-fence.ts';
import { listTransitions, markChargeStarted, writeSnapshot, type SnapshotWrite } from '../../db/payments-repo.ts';
import { insertProduct } from '../../db/products-repo.ts';
import { releaseStock, reserveStock } from '../../db/stock-repo.ts';
import type { Tx } from '../../db/sql.ts';
import { insertPaymentRow } from '../support/payment-rows.ts';
import { useTempDatabase } from '../support/temp-database.ts';

// Each step's write checks the payment's lease inside its own statement (rule 8): it acts
// while the lease is this process's, changes nothing and throws LeaseLost once another
// process holds it, and tells a lost lease from a step that had nothing left to do.

const OWNER = 'instance-a';
const OTHER = 'instance-b';
const NOW = 1_700_000_000_000;
const ours = { paymentId: 'pay_ours', owner: OWNER };
const theirs = { paymentId: 'pay_theirs', owner: OWNER };
const book = [{ productId: 'book-1', quantity: 2 }];

const database = useTempDatabase('lease-fence');
let db: Database;

beforeEach(async () => {
  db = await database.connect();
  await db.commit.run(async (tx) => {
    await insertProduct(tx, { id: 'book-1', name: 'A book', price: 15_000, stock: 5, partnerId: 'p-1', createdAt: 1 });
    await insertPaymentRow(tx, 'pay_ours', 'reserving', { leaseOwner: OWNER, leaseExpiresAt: NOW + 30_000 });
    await insertPaymentRow(tx, 'pay_theirs', 'reserving', { leaseOwner: OTHER, leaseExpiresAt: NOW + 30_000 });
  });
});

const step = <T>(work: (tx: Tx) => Promise<T>) => db.commit.run(work);
const stock = async () => (await db.read.get<{ stock: number }>("select stock from products where id = 'book-1'"))!.stock;
const count = async (table: string, paymentId: string) =>
  (await db.read.get<{ n: number }>(`select count(*) as n from ${table} where payment_id = @paymentId`, { paymentId }))!.n;

describe('requireLease', () => {
  it('passes while the lease is held and throws LeaseLost once another process holds it', async () => {
    await expect(step((tx) => requireLease(tx, ours))).resolves.toBeUndefined();
    await expect(step((tx) => requireLease(tx, theirs))).rejects.toBeInstanceOf(LeaseLost);
    await expect(step((tx) => requireLease(tx, { paymentId: 'pay_none', owner: OWNER }))).rejects.toBeInstanceOf(LeaseLost);
  });
});

describe('reserveStock', () => {
  it('reserves under its lease, and a second run finds its rows', async () => {
    expect((await step((tx) => reserveStock(tx, ours, book, NOW))).outcome).toBe('reserved');
    expect((await step((tx) => reserveStock(tx, ours, book, NOW))).outcome).toBe('reserved');
    expect(await stock()).toBe(3);
  });

  it('gives back what it took when a later item is short, and holds no reservation', async () => {
    await step((tx) => insertProduct(tx, { id: 'seat-1', name: 'A seat', price: 30_000, stock: 1, partnerId: 'p-1', createdAt: 1 }));
    expect((await step((tx) => reserveStock(tx, ours, [...book, { productId: 'seat-1', quantity: 2 }], NOW))).outcome).toBe('out_of_stock');
    expect(await stock()).toBe(5);
    expect(await count('stock_reservations', 'pay_ours')).toBe(0);
  });

  it('takes no stock once another process holds the payment', async () => {
    await expect(step((tx) => reserveStock(tx, theirs, book, NOW))).rejects.toBeInstanceOf(LeaseLost);
    expect(await stock()).toBe(5);
    expect(await count('stock_reservations', 'pay_theirs')).toBe(0);
  });
});

describe('releaseStock', () => {
  it('gives back under its lease once, and finds nothing to give back after', async () => {
    await step((tx) => reserveStock(tx, ours, book, NOW));
    expect(await step((tx) => releaseStock(tx, ours, NOW))).toBe(1);
    expect(await step((tx) => releaseStock(tx, ours, NOW))).toBe(0);
    expect(await stock()).toBe(5);
  });

  it('gives back nothing once another process holds the payment', async () => {
    await step((tx) => reserveStock(tx, ours, book, NOW));
    await db.commit.run((tx) => tx.run("update payments set lease_owner = @other where id = 'pay_ours'", { other: OTHER }));

    await expect(step((tx) => releaseStock(tx, ours, NOW))).rejects.toBeInstanceOf(LeaseLost);
    expect(await stock()).toBe(3);
  });
});

describe('markChargeStarted', () => {
  const started = async (paymentId: string) =>
    (await db.read.get<{ started: number }>('select charges_started as started from payments where id = @paymentId', { paymentId }))!.started;

  it('marks an attempt once under its lease: not the first call when it was marked before', async () => {
    expect((await step((tx) => markChargeStarted(tx, ours, 1))).firstCall).toBe(true);
    expect((await step((tx) => markChargeStarted(tx, ours, 1))).firstCall).toBe(false);
    expect((await step((tx) => markChargeStarted(tx, ours, 2))).firstCall).toBe(true);
    expect(await started('pay_ours')).toBe(2);
  });

  it('tells each attempt of one batch whether it is its first call, without running the batch again', async () => {
    await step((tx) => markChargeStarted(tx, ours, 1));
    await step((tx) => tx.run("update payments set lease_owner = @owner where id = 'pay_theirs'", { owner: OWNER }));
    const mine = { paymentId: 'pay_theirs', owner: OWNER };
    let runs = 0;

    const [again, other] = await Promise.all([
      step((tx) => {
        runs++;
        return markChargeStarted(tx, ours, 1);
      }),
      step((tx) => markChargeStarted(tx, mine, 1)),
    ]);
    expect([again.firstCall, other.firstCall]).toEqual([false, true]);
    expect(runs).toBe(1);
    expect(await started('pay_theirs')).toBe(1);
  });

  it('marks nothing once another process holds the payment', async () => {
    await expect(step((tx) => markChargeStarted(tx, theirs, 1))).rejects.toBeInstanceOf(LeaseLost);
    const row = await db.read.get<{ started: number }>("select charges_started as started from payments where id = 'pay_theirs'");
    expect(row?.started).toBe(0);
  });
});

describe('fulfilOrder', () => {
  it('fulfils under its lease once; a second run changes nothing', async () => {
    await step((tx) => fulfilOrder(tx, ours, 'c-1', '[]', NOW));
    await step((tx) => fulfilOrder(tx, ours, 'c-1', '[]', NOW + 1));
    expect(await count('fulfilments', 'pay_ours')).toBe(1);
  });

  it('fulfils nothing once another process holds the payment', async () => {
    await expect(step((tx) => fulfilOrder(tx, theirs, 'c-1', '[]', NOW))).rejects.toBeInstanceOf(LeaseLost);
    expect(await count('fulfilments', 'pay_theirs')).toBe(0);
  });
});

describe('markRefundCallStarted', () => {
  const cancellation = (id: string, paymentId: string) =>
    step((tx) =>
      upsertCancellation(tx, {
        id,
        paymentId,
        seq: 1,
        idempotencyKey: `key-${id}`,
        requestFingerprint: 'f',
        amount: 1_000,
        reason: 'r',
        requestedAt: NOW,
      }),
    );

  it('counts the calls started before, under its lease', async () => {
    await cancellation('can_ours', 'pay_ours');
    expect(await step((tx) => markRefundCallStarted(tx, ours, 'can_ours'))).toBe(0);
    expect(await step((tx) => markRefundCallStarted(tx, ours, 'can_ours'))).toBe(1);
  });

  it('counts nothing once another process holds the payment', async () => {
    await cancellation('can_theirs', 'pay_theirs');
    await expect(step((tx) => markRefundCallStarted(tx, theirs, 'can_theirs'))).rejects.toBeInstanceOf(LeaseLost);
    const row = await db.read.get<{ calls: number }>("select pg_calls as calls from cancellations where id = 'can_theirs'");
    expect(row?.calls).toBe(0);
  });

  it('says a cancellation that was never recorded is missing, not that the lease is lost', async () => {
    const missing = step((tx) => markRefundCallStarted(tx, ours, 'can_none'));
    await expect(missing).rejects.toThrow('cancellation can_none is not recorded');
    await expect(missing).rejects.not.toBeInstanceOf(LeaseLost);
  });
});

describe('writeSnapshot', () => {
  const write = (paymentId: string, state: string, dueAt: number | null | undefined): SnapshotWrite => ({
    paymentId,
    machineVersion: 1,
    state,
    status: 'processing',
    failureCode: null,
    cancelledAmount: 0,
    snapshot: `{"value":"${state}"}`,
    dueAt,
    active: true,
    updatedAt: NOW,
    transitions: [{ type: 'step.done', from: 'reserving', to: state, at: NOW }],
  });
  const row = (id: string) =>
    db.read.get<{ state: string; dueAt: number | null; snapshot: string }>('select state, due_at as "dueAt", snapshot from payments where id = @id', { id });
  const states = async (paymentId: string) => (await listTransitions(db.read, paymentId)).map((t) => `${t.seq}:${t.toState}`);

  it('writes under its lease, beside a write of the same batch that another process’s lease refuses, with none of its transitions', async () => {
    const outcomes = await Promise.allSettled([
      step((tx) => writeSnapshot(tx, write('pay_ours', 'charging', 5), OWNER)),
      step((tx) => writeSnapshot(tx, write('pay_theirs', 'charging', 5), OWNER)),
    ]);

    expect(outcomes[0].status).toBe('fulfilled');
    expect((outcomes[1] as PromiseRejectedResult).reason).toBeInstanceOf(LeaseLost);
    expect(await row('pay_ours')).toMatchObject({ state: 'charging', dueAt: 5 });
    expect(await row('pay_theirs')).toMatchObject({ state: 'reserving' });
    expect(await states('pay_ours')).toEqual(['1:reserving', '2:charging']);
    expect(await states('pay_theirs')).toEqual(['1:reserving']);
  });

  it('applies two writes of one payment in one batch in order: the later stands, and keeps the deadline it leaves alone', async () => {
    await Promise.all([
      step((tx) => writeSnapshot(tx, write('pay_ours', 'charging', 5), OWNER)),
      step((tx) => writeSnapshot(tx, write('pay_ours', 'finalizing', undefined), OWNER)),
    ]);

    expect(await row('pay_ours')).toEqual({ state: 'finalizing', dueAt: 5, snapshot: '{"value":"finalizing"}' });
    expect(await states('pay_ours')).toEqual(['1:reserving', '2:charging', '3:finalizing']);
  });
});
