import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { Connection, Db } from '../../db/connection.ts';
import { appendPaymentEvent } from '../../db/events-repo.ts';
import { createGroupCommit, type GroupCommit } from '../../db/group-commit.ts';
import {
  claimDelivery,
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

function addEndpoint(db: Db, id: string, url: string, events: string[] = ['*']): void {
  insertWebhookEndpoint(db, { id, url, events: JSON.stringify(events), description: null, secret: SECRET, createdAt: Date.now() });
}

/** A payment's events, numbered 1, 2, … in the order given; their ids are `evt_<payment>_<sequence>`. */
function writeEvents(db: Db, paymentId: string, types: string[]): void {
  types.forEach((type, i) => appendPaymentEvent(db, { id: `evt_${paymentId}_${i + 1}`, paymentId, type, occurredAt: Date.now(), data: '{}' }));
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
function startRelay({ db, sqlite }: Connection, deps: Partial<WebhookRelayDeps> = {}) {
  const relay = startWebhookRelay({
    db,
    commit: createGroupCommit(sqlite),
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

const count = (db: Db, sql: string, ...params: unknown[]) => (db.$client.prepare(`select count(*) as n from ${sql}`).get(...params) as { n: number }).n;

describe('the webhook relay', () => {
  it('keeps sending to a fast endpoint while a hanging one has hundreds of older deliveries due', async () => {
    const conn = temp.connect();
    const slow = await hangingEndpoint();
    const fast = await receiver();
    addEndpoint(conn.db, SLOW, slow.url, ['payment.created']);
    addEndpoint(conn.db, FAST, fast.url, ['payment.completed']);
    for (let i = 0; i < 300; i++) writeEvents(conn.db, `pay_slow_${i}`, ['payment.created']);
    for (let i = 0; i < 20; i++) writeEvents(conn.db, `pay_fast_${i}`, ['payment.created', 'payment.completed']);
    const started = Date.now();
    startRelay(conn);

    await eventually(() => fast.received.length === 20, 5_000);
    expect(new Set(fast.received.map((e) => e.paymentId)).size).toBe(20);
    // The hanging endpoint holds its full share and no more.
    expect(slow.requests()).toBeLessThanOrEqual(32);
    expect(count(conn.db, `webhook_deliveries where endpoint_id = ? and claimed_by is not null`, SLOW)).toBe(32);
    // Each claim outlasts the attempt's deadline by more than two waits for the write lock.
    const { earliest } = conn.db.$client.prepare('select min(claimed_until) as earliest from webhook_deliveries').get() as { earliest: number };
    expect(earliest - started).toBeGreaterThan(60_000 + 2 * 5_000);
  });

  it('hands events to the endpoints as they are when the fan-out commits, not as they were read before', async () => {
    const conn = temp.connect();
    const deleted = await receiver();
    const added = await receiver();
    const GONE = 'we_00000000000000c3';
    addEndpoint(conn.db, GONE, deleted.url);
    writeEvents(conn.db, 'pay_1', ['payment.created', 'payment.completed']);
    // Between the relay's first look at the new events and its fan-out's commit, another
    // process deletes one endpoint and registers another.
    const commit = createGroupCommit(conn.sqlite);
    let meanwhile: (() => void) | undefined = () => {
      deleteWebhookEndpoint(conn.db, GONE);
      addEndpoint(conn.db, FAST, added.url);
    };
    const racing: GroupCommit = {
      run(work) {
        const change = meanwhile;
        meanwhile = undefined;
        change?.();
        return commit.run(work);
      },
      flush: commit.flush,
    };
    startRelay(conn, { commit: racing });

    await eventually(() => added.received.length === 2, 5_000);
    expect(added.received.map((e) => e.sequence)).toEqual([1, 2]);
    expect(deleted.requests).toBe(0);
    expect(count(conn.db, 'webhook_deliveries where endpoint_id = ?', GONE)).toBe(0);
  });

  it('drops a delivery whose endpoint no longer exists instead of claiming it again forever', async () => {
    const conn = temp.connect();
    writeEvents(conn.db, 'pay_orphan', ['payment.created']);
    conn.db.$client
      .prepare(`insert into webhook_deliveries (endpoint_id, event_id, payment_id, sequence, status, next_attempt_at)
        values ('we_000000000000dead', 'evt_pay_orphan_1', 'pay_orphan', 1, 'pending', 0)`)
      .run();
    startRelay(conn);

    await eventually(() => count(conn.db, 'webhook_deliveries') === 0, 5_000);
    expect(count(conn.db, 'webhook_attempts')).toBe(0);
    expect(count(conn.db, 'failed_events')).toBe(0);
    expect(count(conn.db, 'alerts')).toBe(0);
  });

  it('names the endpoint in a dead delivery’s alert without its credentials or query string', async () => {
    const conn = temp.connect();
    const r = await receiver();
    r.answerAlways(503);
    const url = new URL(r.url);
    url.username = 'merchant';
    url.password = 'pa55word';
    url.search = '?token=s3cret-token';
    addEndpoint(conn.db, FAST, url.href);
    writeEvents(conn.db, 'pay_dead', ['payment.created']);
    startRelay(conn);

    await eventually(() => count(conn.db, 'alerts') === 1, 5_000);
    const alert = conn.db.$client.prepare('select title, details from alerts').get() as { title: string; details: string };
    expect(alert.title).toBe(`Event evt_pay_dead_1 could not be delivered to ${r.url}`);
    const stored = conn.db.$client
      .prepare(`select a.title || a.details || f.reason || d.last_error as text from alerts a, failed_events f, webhook_deliveries d`)
      .get() as { text: string };
    expect(stored.text).toContain('HTTP 503');
    expect(stored.text).not.toMatch(/s3cret|pa55word|merchant/);
  });
});

describe('delivery claims', () => {
  const limits = { limit: 10, perEndpoint: 32, inFlight: new Map<string, number>() };
  const deliveryIds = (db: Db) => (db.$client.prepare('select id from webhook_deliveries order by sequence').all() as Array<{ id: number }>).map((d) => d.id);
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

  it('does not claim a payment’s next event once an earlier one is pending again (an operator’s redelivery)', () => {
    const { db } = temp.connect();
    addEndpoint(db, FAST, 'http://127.0.0.1:1/hooks');
    writeEvents(db, 'pay_1', ['payment.created', 'payment.completed']);
    fanOut(db, 500, 1_000);
    const [first, second] = deliveryIds(db) as [number, number];
    expect(claimDelivery(db, first, 'me', 1_000, 100)).toBe(true);
    expect(recordAttempt(db, 'me', outcome(first, 1))).toBe(true); // dead: no attempt left

    expect(dueDeliveries(db, 2_000, limits).map((d) => d.id)).toEqual([second]);
    expect(redeliver(db, FAST, 'evt_pay_1_1', 2_000)).toBe(true);
    // Found due a moment ago, but event 1 is pending again: event 2 waits for it.
    expect(claimDelivery(db, second, 'me', 2_000, 100)).toBe(false);
    expect(dueDeliveries(db, 2_000, limits).map((d) => d.id)).toEqual([first]);
    expect(claimDelivery(db, first, 'me', 2_000, 100)).toBe(true);
  });

  it('records an attempt only for the holder of the claim', () => {
    const { db } = temp.connect();
    addEndpoint(db, FAST, 'http://127.0.0.1:1/hooks');
    writeEvents(db, 'pay_1', ['payment.created']);
    fanOut(db, 500, 1_000);
    const [id] = deliveryIds(db) as [number];
    expect(claimDelivery(db, id, 'slow-process', 1_000, 100)).toBe(true);
    // The claim ran out and another process took the delivery.
    expect(claimDelivery(db, id, 'other-process', 1_200, 100)).toBe(true);
    expect(recordAttempt(db, 'slow-process', outcome(id, 1))).toBe(false);
    expect(count(db, 'webhook_attempts')).toBe(0);
    expect(recordAttempt(db, 'other-process', outcome(id, 1))).toBe(true);
    expect(count(db, 'webhook_attempts')).toBe(1);
  });

  it('returns no more of one endpoint’s due deliveries than its room', () => {
    const { db } = temp.connect();
    addEndpoint(db, SLOW, 'http://127.0.0.1:1/slow', ['payment.created']);
    addEndpoint(db, FAST, 'http://127.0.0.1:1/fast', ['payment.completed']);
    for (let i = 0; i < 50; i++) writeEvents(db, `pay_${i}`, ['payment.created', 'payment.completed']);
    fanOut(db, 500, 1_000);
    const byEndpoint = (inFlight: Map<string, number>) => {
      const due = dueDeliveries(db, 2_000, { limit: 100, perEndpoint: 32, inFlight });
      return [SLOW, FAST].map((e) => due.filter((d) => d.endpointId === e).length);
    };
    expect(byEndpoint(new Map())).toEqual([32, 32]);
    expect(byEndpoint(new Map([[SLOW, 30]]))).toEqual([2, 32]);
    expect(byEndpoint(new Map([[SLOW, 32], [FAST, 31]]))).toEqual([0, 1]);
  });
});
