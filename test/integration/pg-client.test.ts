import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logger.ts';
import { createMockPg, type MockPg } from '../../src/mock-pg/mock-pg.ts';
import { createPgClient, type PgClient } from '../../src/pg/pg-client.ts';

const SECRET = 'pg-client-test-secret';
const STORE_ID = 'store-pg-client-test';
const WEBHOOK_SECRET = `whsec_${Buffer.from('pg-client-test-webhook').toString('base64')}`;
/** How long the mock PG holds every `bk_test_delay` charge. */
const DELAY_MS = 300;

const closing: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(closing.splice(0).map((close) => close()));
});

interface Setup {
  connections: number;
  timeoutMs: number;
  queueTimeoutMs?: number;
}

/** The real mock PG holding each charge for DELAY_MS, and a client with `connections`. */
async function clientAgainstSlowPg({ connections, timeoutMs, queueTimeoutMs = 60_000 }: Setup): Promise<{ pg: PgClient; mockPg: MockPg }> {
  const mockPg = createMockPg({ secret: SECRET, storeId: STORE_ID, webhookSecret: WEBHOOK_SECRET, chaos: { delayMs: DELAY_MS } });
  const baseUrl = await mockPg.listen(0);
  const logger = createLogger('silent', 'test');
  const pg = createPgClient({ baseUrl, secret: SECRET, storeId: STORE_ID, timeoutMs, connections, queueTimeoutMs, logger });
  closing.push(() => pg.close(), () => mockPg.close());
  return { pg, mockPg };
}

let lastId = 0;
const charge = (pg: PgClient, signal?: AbortSignal) => {
  const paymentId = `pay_pg_client_${Date.now()}_${++lastId}`;
  const request = { paymentId, billingKey: 'bk_test_delay', orderName: 'seat', amount: 15_000, currency: 'KRW', customerId: 'cus_1' };
  return { paymentId, result: pg.chargeWithBillingKey(request, signal) };
};

const chargedAtPg = (mockPg: MockPg) => new Set(mockPg.ledger().map((e) => e.paymentId));

describe('PG client deadlines', () => {
  it('starts a call’s deadline when it gets a connection, not while it waits for one', async () => {
    // One connection, five charges of 300 ms: the fourth and fifth wait 900 and 1,200 ms
    // for their turn, past the 1,000 ms deadline, yet the PG answers each in 300 ms.
    const { pg } = await clientAgainstSlowPg({ connections: 1, timeoutMs: 1_000 });
    const results = await Promise.all([1, 2, 3, 4, 5].map(() => charge(pg).result));
    expect(results.map((r) => r.kind)).toEqual(['paid', 'paid', 'paid', 'paid', 'paid']);
  });

  it('still gives up on a PG that holds the call past the deadline', async () => {
    const { pg } = await clientAgainstSlowPg({ connections: 4, timeoutMs: DELAY_MS / 2 });
    expect(await charge(pg).result).toEqual({ kind: 'unknown', reason: 'timeout' });
  });

  it('does not send a call that waited for a connection longer than the queue allows', async () => {
    const { pg, mockPg } = await clientAgainstSlowPg({ connections: 1, timeoutMs: 5_000, queueTimeoutMs: DELAY_MS / 3 });
    const first = charge(pg);
    const second = charge(pg);
    expect((await first.result).kind).toBe('paid');
    expect(await second.result).toEqual({ kind: 'unknown', reason: 'not_sent_queue_timeout' });
    expect(chargedAtPg(mockPg).has(second.paymentId)).toBe(false);
    expect(pg.queued).toBe(0);
  });

  it('does not send a queued call whose caller went away', async () => {
    const { pg, mockPg } = await clientAgainstSlowPg({ connections: 1, timeoutMs: 5_000 });
    const stepStopped = new AbortController();
    const first = charge(pg);
    const abandoned = charge(pg, stepStopped.signal);
    stepStopped.abort();
    expect(await abandoned.result).toEqual({ kind: 'unknown', reason: 'not_sent_cancelled' });
    expect((await first.result).kind).toBe('paid');
    expect(chargedAtPg(mockPg).has(abandoned.paymentId)).toBe(false);
    expect(chargedAtPg(mockPg).has(first.paymentId)).toBe(true);
  });
});
