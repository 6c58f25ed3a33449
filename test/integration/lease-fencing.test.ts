import { afterEach, describe, expect, it } from 'vitest';
import { eventually } from '../support/alert-receiver.ts';
import type { Params } from '../../db/sql.ts';
import { purchase, startHarness, type Harness } from '../support/harness.ts';
import { openSession } from '../support/temp-database.ts';
import { testDialect } from '../support/test-database.ts';

let h: Harness;
afterEach(() => h.close());

const OTHER = 'other-process';

/** Runs statements on a connection of its own, as another process sharing the database would. */
async function asAnotherProcess(statements: string[], params: Params = {}): Promise<void> {
  const session = await openSession({ path: h.dbPath, url: h.config.DATABASE_URL });
  try {
    for (const statement of statements) await session.run(statement, params);
  } finally {
    await session.close();
  }
}

/**
 * Another process takes the payment's lease: this process stalled past LEASE_TTL_MS and
 * the other's scheduler took the payment over. The next step's write then comes from a
 * process that no longer holds the lease.
 */
const stealLease = (paymentId: string) =>
  asAnotherProcess([`update payments set lease_owner = @owner, lease_expires_at = 9000000000000 where id = @id`], { owner: OTHER, id: paymentId });

/** The same, right after a write of this process commits, for steps that follow at once. */
const STOLEN_AFTER = {
  /** The payment row is created: the reservation comes next. */
  creation: { table: 'payments', id: 'NEW.id' },
  /** The stock is reserved: marking the charge started comes next. */
  reservation: { table: 'stock_reservations', id: 'NEW.payment_id' },
};

/** A trigger after the write, in SQLite's or PostgreSQL's form. */
function stealLeaseAfter(write: keyof typeof STOLEN_AFTER): Promise<void> {
  const { table, id } = STOLEN_AFTER[write];
  const steal = `UPDATE payments SET lease_owner = '${OTHER}', lease_expires_at = 9000000000000 WHERE id = ${id};`;
  return asAnotherProcess(
    testDialect === 'sqlite'
      ? [`CREATE TRIGGER steal_lease AFTER INSERT ON ${table} BEGIN ${steal} END`]
      : [
          `CREATE FUNCTION steal_lease() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN ${steal} RETURN NULL; END $$`,
          `CREATE TRIGGER steal_lease AFTER INSERT ON ${table} FOR EACH ROW EXECUTE FUNCTION steal_lease()`,
        ],
  );
}

/** Pays with the charge held at the proxy; the lease is taken while the PG has it. */
async function payWhileLeaseIsTaken(key: string, billingKey: string): Promise<string> {
  h.proxy!.holdNext('POST', /\/billing-key$/, 400);
  const { body } = await h.pay(key, purchase('book-1', 1, billingKey));
  await eventually(() => h.proxy!.seen.some((r) => r.path.endsWith('/billing-key')));
  await stealLease(body.id);
  // The PG answers; the step after the charge finds the lease gone, and the actor is dropped.
  await eventually(() => h.mock.ledger().length === 1 && !h.service.host.isLive(body.id));
  await h.service.host.committed();
  return body.id;
}

const read = <T>(sql: string, id: string) => h.service.db.read.get<T>(sql, { id });

const stock = async () => (await h.request('GET', '/v1/products/book-1')).body.stock as number;

describe('step writes are fenced by the lease', () => {
  it('does not release stock once another process holds the payment (the oversell interleaving)', async () => {
    h = await startHarness({}, {}, { proxy: true });
    await h.createProduct({ id: 'book-1', price: 15_000, stock: 5 });
    const id = await payWhileLeaseIsTaken('k-fenced-release', 'bk_test_decline');
    // The stalled process wrote nothing: the stock is still held, the state is the last committed one.
    expect(await read('select status from stock_reservations where payment_id = @id', id)).toEqual({ status: 'reserved' });
    expect(await stock()).toBe(4);
    expect(await read('select state, lease_owner as owner from payments where id = @id', id)).toEqual({ state: 'charging.calling', owner: OTHER });
    expect((await h.request('GET', '/metrics')).body).toMatch(/paystate_snapshot_write_failures [1-9]/);

    // The lease holder resumes from the committed state, asks the PG, and finishes the payment once.
    await h.startPeer(OTHER);
    expect((await h.settled(id)).status).toBe('failed');
    expect(await stock()).toBe(5);
    expect(h.mock.ledger()).toMatchObject([{ paymentId: id, status: 'FAILED', charges: 0 }]);
  });

  it('does not fulfil once another process holds the payment', async () => {
    h = await startHarness({}, {}, { proxy: true });
    await h.createProduct({ id: 'book-1', price: 15_000, stock: 5 });
    const id = await payWhileLeaseIsTaken('k-fenced-fulfil', 'bk_test_ok');
    expect(await read('select count(*) as n from fulfilments where payment_id = @id', id)).toEqual({ n: 0 });
    expect(await read('select state from payments where id = @id', id)).toEqual({ state: 'charging.calling' });
    await h.startPeer(OTHER);
    expect((await h.settled(id)).status).toBe('completed');
    expect(h.mock.ledger()).toMatchObject([{ paymentId: id, status: 'PAID', charges: 1 }]);
  });

  it.each([
    { step: 'reserve stock', after: 'creation', check: 'select count(*) as n from stock_reservations where payment_id = @id' },
    { step: 'mark the charge started', after: 'reservation', check: 'select charges_started as n from payments where id = @id' },
  ] as const)('does not $step once another process holds the payment', async ({ after, check }) => {
    h = await startHarness();
    await h.createProduct({ id: 'book-1', price: 15_000, stock: 5 });
    await stealLeaseAfter(after);
    const { body } = await h.pay(`k-fenced-${after}`, purchase('book-1'));
    await eventually(() => !h.service.host.isLive(body.id));
    await h.service.host.committed();
    expect((await read<{ n: number }>(check, body.id))?.n).toBe(0);
    expect(await read('select state from payments where id = @id', body.id)).toEqual({ state: 'reserving.reservingStock' });
    // Nothing reached the PG from the process that lost the lease.
    expect(h.mock.ledger()).toEqual([]);
    await h.startPeer(OTHER);
    expect((await h.settled(body.id)).status).toBe('completed');
    expect(h.mock.ledger()).toMatchObject([{ paymentId: body.id, status: 'PAID', charges: 1 }]);
  });
});
