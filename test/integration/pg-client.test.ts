import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logger.ts';
import { createMockPg } from '../../src/mock-pg/mock-pg.ts';
import { createPgClient, type PgClient } from '../../src/pg/pg-client.ts';

const SECRET = 'pg-client-test-secret';
const STORE_ID = 'store-pg-client-test';
const WEBHOOK_SECRET = `whsec_${Buffer.from('pg-client-test-webhook').toString('base64')}`;
const DELAY_MS = 400;

const closing: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(closing.splice(0).map((close) => close()));
});

/** The real mock PG, holding every `bk_test_delay` charge for DELAY_MS, and a client with `connections`. */
async function clientAgainstSlowPg(connections: number, timeoutMs: number): Promise<PgClient> {
  const mockPg = createMockPg({ secret: SECRET, storeId: STORE_ID, webhookSecret: WEBHOOK_SECRET, chaos: { delayMs: DELAY_MS } });
  const baseUrl = await mockPg.listen(0);
  const pg = createPgClient({ baseUrl, secret: SECRET, storeId: STORE_ID, timeoutMs, connections, logger: createLogger('silent', 'test') });
  closing.push(() => pg.close(), () => mockPg.close());
  return pg;
}

const charge = (pg: PgClient, n: number) =>
  pg.chargeWithBillingKey({
    paymentId: `pay_pg_client_${Date.now()}_${n}`,
    billingKey: 'bk_test_delay',
    orderName: 'seat',
    amount: 15_000,
    currency: 'KRW',
    customerId: 'cus_1',
  });

describe('PG client deadlines', () => {
  it('starts a call’s deadline when it gets a connection, not while it waits for one', async () => {
    // One connection, three charges of 400 ms each: the third waits 800 ms for its turn,
    // longer than the 600 ms deadline, yet the PG answers it within its own 400 ms.
    const pg = await clientAgainstSlowPg(1, 600);
    const results = await Promise.all([1, 2, 3].map((n) => charge(pg, n)));
    expect(results.map((r) => r.kind)).toEqual(['paid', 'paid', 'paid']);
  });

  it('still gives up on a PG that holds the call past the deadline', async () => {
    const pg = await clientAgainstSlowPg(4, DELAY_MS / 2);
    expect(await charge(pg, 1)).toEqual({ kind: 'unknown', reason: 'timeout' });
  });
});
