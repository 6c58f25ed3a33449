import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { Database } from '../../db/connection.ts';
import { appendPaymentEvent } from '../../db/events-repo.ts';
import type { GroupCommit } from '../../db/group-commit.ts';
import type { Params, Sql, Tx } from '../../db/sql.ts';
import {
  claimDeliveries,
  deleteWebhookEndpoint,
  dueDeliveries,
  fanOut,
  insertWebhookEndpoint,
  recordAttempt,
  redeliver,
} from '../../db/webhooks-repo.ts';
import { startWebhookRelay, type WebhookRelayDeps } from '../../src/events/webhook-relay.ts';
import { createLogger } from '../../src/logger.ts';
import { eventually } from '../support/alert-receiver.ts';
import { startMerchantReceiver, type MerchantReceiver } from '../support/merchant-receiver.ts';
import { useTempDatabase } from '../support/temp-database.ts';

const temp = useTempDatabase('webhook-relay');
const stops: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
});

const SECRET = 'whsec_dGVzdC1yZWxheS1zZWNyZXQtMDEyMzQ1Njc4OQ==';
const SLOW = 'we_00000000000000a1';
const FAST = 'we_00000000000000b2';

async function addEndpoint(q: Sql, id: string, url: string, events: string[] = ['*']): Promise<void> {
  await insertWebhookEndpoint(q, { id, url, events: JSON.stringify(events), description: null, secret: SECRET, createdAt: Date.now() });
}

/** A payment's events, numbered 1, 2, … in the order given; their ids are `evt_<payment>_<sequence>`. */
async function writeEvents(q: Tx, paymentId: string, types: string[]): Promise<void> {
  for (const [i, type] of types.entries()) {
    await appendPaymentEvent(q, { id: `evt_${paymentId}_${i + 1}`, paymentId, type, occurredAt: Date.now(), data: '{}' });
  }
}

async function receiver(): Promise<MerchantReceiver> {
  const r = await startMerchantReceiver();
  r.secret = SECRET;
  stops.push(() => r.close());
  return r;
}

/** An endpoint that accepts every request and never answers it. */
async function hangingEndpoint(): Promise<{ url: string; requests: () => number }> {
  let requests = 0;
  const server = createServer(() => requests++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  stops.push(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`, requests: () => requests };
}

/** The relay on this test's database; an attempt gets a minute, a failed one is dead at once. */
function startRelay(db: Database, deps: Partial<WebhookRelayDeps> = {}) {
  const relay = startWebhookRelay({
    db,
    lockWaitMs: 5_000, // SQLite's default, which temp.connect() keeps
    clock: Date.now,
    logger: createLogger('silent', 'webhook-relay-test'),
    owner: 'relay-test',
    retryScheduleMs: [],
    timeoutMs: 60_000,
    pollMs: 20,
    ...deps,
  });
  stops.push(() => relay.stop());
  return relay;
}

const count = async (q: Sql, sql: string, params: Params = {}) => (await q.get<{ n: number }>(`select count(*) as n from ${sql}`, params))!.n;

describe('the webhook relay', () => {
  it('keeps sending to a fast endpoint while a hanging one has hundreds of older deliveries due', async () => {
    const db = await temp.connect();
    const slow = await hangingEndpoint();
    const fast = await receiver();
    await db.commit.run(async (tx) => {
      await addEndpoint(tx, SLOW, slow.url, ['payment.created']);
      await addEndpoint(tx, FAST, fast.url, ['payment.completed']);
      for (let i = 0; i < 300; i++) await writeEvents(tx, `pay_slow_${i}`, ['payment.created']);
      for (let i = 0; i < 20; i++) await writeEvents(tx, `pay_fast_${i}`, ['payment.created', 'payment.completed']);
    });
    const started = Date.now();
    startRelay(db);

    await eventually(() => fast.received.length === 20, 5_000);
    expect(new Set(fast.received.map((e) => e.paymentId)).size).toBe(20);
    // The hanging endpoint holds its full share and no more.
    expect(slow.requests()).toBeLessThanOrEqual(32);
    expect(await count(db.read, `webhook_deliveries where endpoint_id = @id and claimed_by is not null`, { id: SLOW })).toBe(32);
    // Each claim outlasts the attempt's deadline by more than two waits for the write lock.
    const { earliest } = (await db.read.get<{ earliest: number }>('select min(claimed_until) as earliest from webhook_deliveries'))!;
    expect(earliest - started).toBeGreaterThan(60_000 + 2 * 5_000);
  });

  it('hands events to the endpoints as they are when the fan-out commits, not as they were read before', async () => {
    const db = await temp.connect();
    const deleted = await receiver();
    const added = await receiver();
    const GONE = 'we_00000000000000c3';
    await db.commit.run(async (tx) => {
      await addEndpoint(tx, GONE, deleted.url);
      await writeEvents(tx, 'pay_1', ['payment.created', 'payment.completed']);
    });
    // Between the relay's first look at the new events and its fan-out's commit, another
    // process deletes one endpoint and registers another.
    const other = await temp.session();
    let meanwhile: (() => Promise<void>) | undefined = async () => {
      await deleteWebhookEndpoint(other, GONE);
      await addEndpoint(other, FAST, added.url);
    };
    const { commit } = db;
    const racing: GroupCommit = {
      async run(work) {
        const change = meanwhile;
        meanwhile = undefined;
        await change?.();
        return commit.run(work);
      },
      flush: commit.flush,
    };
    startRelay({ ...db, commit: racing });

    await eventually(() => added.received.length === 2, 5_000);
    expect(added.received.map((e) => e.sequence)).toEqual([1, 2]);
    expect(deleted.requests).toBe(0);
    expect(await count(db.read, 'webhook_deliveries where endpoint_id = @id', { id: GONE })).toBe(0);
  });

  it('drops a delivery whose endpoint no longer exists instead of claiming it again forever', async () => {
    const db = await temp.connect();
    await db.commit.run(async (tx) => {
      await writeEvents(tx, 'pay_orphan', ['payment.created']);
      await tx.run(`insert into webhook_deliveries (endpoint_id, event_id, payment_id, sequence, status, next_attempt_at)
        values ('we_000000000000dead', 'evt_pay_orphan_1', 'pay_orphan', 1, 'pending', 0)`);
    });
    startRelay(db);

    await eventually(async () => (await count(db.read, 'webhook_deliveries')) === 0, 5_000);
    expect(await count(db.read, 'webhook_attempts')).toBe(0);
    expect(await count(db.read, 'failed_events')).toBe(0);
    expect(await count(db.read, 'alerts')).toBe(0);
  });

  it('names the endpoint in a dead delivery’s alert without its credentials or query string', async () => {
    const db = await temp.connect();
    const r = await receiver();
    r.answerAlways(503);
    const url = new URL(r.url);
    url.username = 'merchant';
    url.password = 'pa55word';
    url.search = '?token=s3cret-token';
    await db.commit.run(async (tx) => {
      await addEndpoint(tx, FAST, url.href);
      await writeEvents(tx, 'pay_dead', ['payment.created']);
    });
    startRelay(db);

    await eventually(async () => (await count(db.read, 'alerts')) === 1, 5_000);
    const alert = (await db.read.get<{ title: string; details: string }>('select title, details from alerts'))!;
    expect(alert.title).toBe(`Event evt_pay_dead_1 could not be delivered to ${r.url}`);
    const stored = (await db.read.get<{ text: string }>(
      `select a.title || a.details || f.reason || d.last_error as text from alerts a, failed_events f, webhook_deliveries d`,
    ))!;
    expect(stored.text).toContain('HTTP 503');
    expect(stored.text).not.toMatch(/s3cret|pa55word|merchant/);
  });
});

describe('delivery claims', () => {
  const limits = { limit: 10, perEndpoint: 32, inFlight: new Map<string, number>() };
  const deliveryIds = async (q: Sql) => (await q.all<{ id: number }>('select id from webhook_deliveries order by sequence')).map((d) => d.id);
  const outcome = (deliveryId: number, attempt: number) => ({
    deliveryId,
    endpointId: FAST,
    eventId: 'evt_pay_1_1',
    attempt,
    delivered: false,
    responseStatus: 503,
    durationMs: 1,
    error: 'HTTP 503',
    at: 1_500,
    nextAttemptAt: null,
  });

  it('does not claim a payment’s next event once an earlier one is pending again (an operator’s redelivery)', async () => {
    const db = await temp.connect();
    await db.commit.run(async (tx) => {
      await addEndpoint(tx, FAST, 'http://127.0.0.1:1/hooks');
      await writeEvents(tx, 'pay_1', ['payment.created', 'payment.completed']);
    });
    await db.commit.run((tx) => fanOut(tx, 500, 1_000));
    const [first, second] = (await deliveryIds(db.read)) as [number, number];
    expect(await db.commit.run((tx) => claimDeliveries(tx, [first], 'me', 1_000, 100))).toEqual([first]);
    expect(await db.commit.run((tx) => recordAttempt(tx, 'me', outcome(first, 1)))).toBe(true); // dead: no attempt left

    expect((await dueDeliveries(db.read, 2_000, limits)).map((d) => d.id)).toEqual([second]);
    expect(await db.commit.run((tx) => redeliver(tx, FAST, 'evt_pay_1_1', 2_000))).toBe(true);
    // Found due a moment ago, but event 1 is pending again: event 2 waits for it.
    expect(await db.commit.run((tx) => claimDeliveries(tx, [second], 'me', 2_000, 100))).toEqual([]);
    expect((await dueDeliveries(db.read, 2_000, limits)).map((d) => d.id)).toEqual([first]);
    expect(await db.commit.run((tx) => claimDeliveries(tx, [first], 'me', 2_000, 100))).toEqual([first]);
  });

  it('records an attempt only for the holder of the claim', async () => {
    const db = await temp.connect();
    await db.commit.run(async (tx) => {
      await addEndpoint(tx, FAST, 'http://127.0.0.1:1/hooks');
      await writeEvents(tx, 'pay_1', ['payment.created']);
    });
    await db.commit.run((tx) => fanOut(tx, 500, 1_000));
    const [id] = (await deliveryIds(db.read)) as [number];
    expect(await db.commit.run((tx) => claimDeliveries(tx, [id], 'slow-process', 1_000, 100))).toEqual([id]);
    // The claim ran out and another process took the delivery.
    expect(await db.commit.run((tx) => claimDeliveries(tx, [id], 'other-process', 1_200, 100))).toEqual([id]);
    expect(await db.commit.run((tx) => recordAttempt(tx, 'slow-process', outcome(id, 1)))).toBe(false);
    expect(await count(db.read, 'webhook_attempts')).toBe(0);
    expect(await db.commit.run((tx) => recordAttempt(tx, 'other-process', outcome(id, 1)))).toBe(true);
    expect(await count(db.read, 'webhook_attempts')).toBe(1);
  });

  it('returns no more of one endpoint’s due deliveries than its room', async () => {
    const db = await temp.connect();
    await db.commit.run(async (tx) => {
      await addEndpoint(tx, SLOW, 'http://127.0.0.1:1/slow', ['payment.created']);
      await addEndpoint(tx, FAST, 'http://127.0.0.1:1/fast', ['payment.completed']);
      for (let i = 0; i < 50; i++) await writeEvents(tx, `pay_${i}`, ['payment.created', 'payment.completed']);
    });
    await db.commit.run((tx) => fanOut(tx, 500, 1_000));
    const byEndpoint = async (inFlight: Map<string, number>) => {
      const due = await dueDeliveries(db.read, 2_000, { limit: 100, perEndpoint: 32, inFlight });
      return [SLOW, FAST].map((e) => due.filter((d) => d.endpointId === e).length);
    };
    expect(await byEndpoint(new Map())).toEqual([32, 32]);
    expect(await byEndpoint(new Map([[SLOW, 30]]))).toEqual([2, 32]);
    expect(await byEndpoint(new Map([[SLOW, 32], [FAST, 31]]))).toEqual([0, 1]);
  });
});
