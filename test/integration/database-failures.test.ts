import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually, startAlertReceiver, type AlertReceiver } from '../support/alert-receiver.ts';
import { PG_SECRET, purchase, startHarness, type Harness } from '../support/harness.ts';

let h: Harness;
let receiver: AlertReceiver | undefined;
let locker: Database.Database | undefined;
afterEach(async () => {
  if (locker?.inTransaction) locker.exec('ROLLBACK');
  locker?.close();
  locker = undefined;
  await h.close();
  await receiver?.close();
  receiver = undefined;
});

/** Another connection takes SQLite's write lock: every batch of the group commit fails busy until it lets go. */
function holdWriteLock(): () => void {
  locker = new Database(h.dbPath);
  locker.exec('BEGIN IMMEDIATE');
  return () => locker!.exec('ROLLBACK');
}

const ledgerOf = (id: string) => h.mock.ledger().find((e) => e.paymentId === id);

describe('a database that refuses writes for a while', () => {
  it('survives failed write batches and finishes their payments once the database is back', async () => {
    h = await startHarness({ SQLITE_BUSY_TIMEOUT_MS: '20' });
    await h.createProduct({ id: 'book-1', price: 15_000, stock: 5 });
    h.mock.setChaos({ delayMs: 400 });
    const { body } = await h.pay('k-busy', purchase('book-1', 1, 'bk_test_delay'));
    await eventually(() => ledgerOf(body.id)?.status === 'PENDING');
    // The charge answers while the database is locked: its writes fail with the whole batch.
    const release = holdWriteLock();
    await eventually(async () => (await h.request('GET', '/metrics')).body.match(/paystate_snapshot_write_failures ([1-9])/));
    const refused = await h.pay('k-busy-2', purchase('book-1'));
    expect(refused.status).toBe(503);
    expect(refused.body.code).toBe('temporarily_unavailable');
    expect(refused.headers.get('retry-after')).toBe('1');
    release();
    expect((await h.settled(body.id)).status).toBe('completed');
    expect(ledgerOf(body.id)).toMatchObject({ status: 'PAID', charges: 1 });
    expect((await h.request('GET', '/v1/products/book-1')).body.stock).toBe(4);
    // The refused request changed nothing; sent again, it goes through.
    expect((await h.pay('k-busy-2', purchase('book-1'), '?wait=10')).body.status).toBe('completed');
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
