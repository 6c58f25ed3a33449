import { afterEach, describe, expect, it } from 'vitest';
import { eventually, startAlertReceiver, type AlertReceiver } from '../support/alert-receiver.ts';
import { PG_SECRET, purchase, startHarness, type Harness } from '../support/harness.ts';
import { holdWriteLock, lockWaitEnv, openSession, type Session } from '../support/temp-database.ts';
import { testDialect } from '../support/test-database.ts';

let h: Harness;
let receiver: AlertReceiver | undefined;
let locker: Session | undefined;
afterEach(async () => {
  await locker?.close();
  locker = undefined;
  await h.close();
  await receiver?.close();
  receiver = undefined;
});

/**
 * Another connection takes the write lock of the payments (SQLite's whole file): every
 * batch that writes a payment fails busy until it lets go.
 */
async function holdPaymentsLock(): Promise<() => Promise<void>> {
  locker = await openSession({ path: h.dbPath, url: h.config.DATABASE_URL });
  return holdWriteLock(locker, ['payments']);
}

const ledgerOf = (id: string) => h.mock.ledger().find((e) => e.paymentId === id);

describe('a database that refuses writes for a while', () => {
  it('survives failed write batches and finishes their payments once the database is back', async () => {
    // Writes give up on the lock after 20 ms (SQLite's busy timeout, PostgreSQL's lock_timeout).
    h = await startHarness(await lockWaitEnv(20));
    await h.createProduct({ id: 'book-1', price: 15_000, stock: 5 });
    h.mock.setChaos({ delayMs: 400 });
    const { body } = await h.pay('k-busy', purchase('book-1', 1, 'bk_test_delay'));
    await eventually(() => ledgerOf(body.id)?.status === 'PENDING');
    // The charge answers while the database is locked: its writes fail with the whole batch.
    const release = await holdPaymentsLock();
    await eventually(async () => (await h.request('GET', '/metrics')).body.match(/paystate_snapshot_write_failures ([1-9])/));
    const refused = await h.pay('k-busy-2', purchase('book-1'));
    expect(refused.status).toBe(503);
    expect(refused.body.code).toBe('temporarily_unavailable');
    expect(refused.headers.get('retry-after')).toBe('1');
    await release();
    expect((await h.settled(body.id)).status).toBe('completed');
    expect(ledgerOf(body.id)).toMatchObject({ status: 'PAID', charges: 1 });
    expect((await h.request('GET', '/v1/products/book-1')).body.stock).toBe(4);
    // The refused request changed nothing; sent again, it goes through.
    expect((await h.pay('k-busy-2', purchase('book-1'), '?wait=10')).body.status).toBe('completed');
  });
});

describe('a database that cuts its connections', () => {
  // SQLite has no server that could end a connection: its counterpart is the lock above.
  it.skipIf(testDialect === 'sqlite')('finishes a payment whose write it cut, on new connections', async () => {
    h = await startHarness();
    await h.createProduct({ id: 'book-1', price: 15_000, stock: 5 });
    h.mock.setChaos({ delayMs: 400 });
    const { body } = await h.pay('k-cut', purchase('book-1', 1, 'bk_test_delay'));
    await eventually(() => ledgerOf(body.id)?.status === 'PENDING');
    // The charge's answer waits for the lock; then the server ends every connection of the service.
    const release = await holdPaymentsLock();
    const others = `from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()`;
    await eventually(async () => (await locker!.get<{ n: number }>(`select count(*)::int as n ${others} and wait_event_type = 'Lock'`))!.n > 0);
    // Each one gone before going on (the timeout makes it wait): a request sent on a connection
    // still dying would fail busy, which is right but not what this test is about.
    const cut = await locker!.get<{ n: number }>(`select count(*)::int as n from (select pg_terminate_backend(pid, 5000) ${others}) ended`);
    expect(cut!.n).toBeGreaterThan(0);
    await release();
    expect((await h.settled(body.id)).status).toBe('completed');
    expect(ledgerOf(body.id)).toMatchObject({ status: 'PAID', charges: 1 });
    expect((await h.request('GET', '/v1/products/book-1')).body.stock).toBe(4);
    expect((await h.pay('k-cut-2', purchase('book-1'), '?wait=10')).body.status).toBe('completed');
  });
});

describe('a PG that refuses our credentials', () => {
  it('fails no payment for it: the payment keeps asking, one urgent alert goes out, and a fixed secret finishes it', async () => {
    receiver = await startAlertReceiver();
    h = await startHarness({ PG_SECRET: 'not-the-pg-secret', ALERT_WEBHOOK_URL: receiver.url, ALERT_POLL_MS: '20' });
    await h.createProduct({ id: 'book-1', price: 15_000, stock: 5 });
    const { body } = await h.pay('k-401', purchase('book-1'));
    const alert = await eventually(() => receiver!.received[0]);
    expect(alert).toMatchObject({ severity: 'urgent', paymentId: null });
    expect(String(alert.text)).toContain('refuses our credentials (HTTP 401)');
    await eventually(async () => (await h.request('GET', `/v1/payments/${body.id}`)).body.state === 'inquiring');
    expect((await h.request('GET', `/v1/payments/${body.id}`)).body).toMatchObject({ status: 'processing', failureCode: null });
    expect(receiver.received).toHaveLength(1);
    expect(h.mock.ledger()).toEqual([]);

    await h.restart({ PG_SECRET });
    expect((await h.settled(body.id)).status).toBe('completed');
    expect(ledgerOf(body.id)).toMatchObject({ status: 'PAID', charges: 1 });
  });
});
