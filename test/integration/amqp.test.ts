import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type Channel, type ChannelModel, type ConsumeMessage } from 'amqplib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startBroker, type Broker } from '../../scripts/lib/rabbitmq.ts';
import { eventually } from '../support/alert-receiver.ts';
import { ADMIN_TOKEN, purchase, startHarness, type Harness } from '../support/harness.ts';
import { refuseWrites } from '../support/refuse-writes.ts';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.ts';
import { holdWriteLock, lockWaitEnv, openSession } from '../support/temp-database.ts';

/** One real RabbitMQ broker (Debian's rabbitmq-server) for this file, on 127.0.0.1. */
let broker: Broker;
let brokerDir: string;
beforeAll(async () => {
  brokerDir = mkdtempSync(join(tmpdir(), 'paystate-broker-'));
  broker = await startBroker(brokerDir);
}, 90_000);
afterAll(async () => {
  await broker?.stop();
  rmSync(brokerDir, { recursive: true, force: true });
});

let h: Harness;
/** Whether `h` still runs (a test may stop it early to look at what it left in the broker). */
let running = false;
let client: ChannelModel | undefined;
let proxy: TcpProxy | undefined;
let counter = 0;
afterEach(async () => {
  await client?.close().catch(() => undefined);
  client = undefined;
  // Nothing the service waits for (confirms) may stay held while it stops.
  proxy?.release();
  if (running) await h.close();
  running = false;
  await proxy?.close();
  proxy = undefined;
});

const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };

/** Each test its own exchange and inbox, so one test's messages never reach another. */
async function setUp(env: Record<string, string> = {}) {
  counter++;
  const names = { exchange: `test.events.${counter}`, inbox: `test.inbox.${counter}` };
  h = await startHarness({
    AMQP_URL: broker.url,
    AMQP_EXCHANGE: names.exchange,
    AMQP_INBOX_QUEUE: names.inbox,
    AMQP_MAX_RETRIES: '2',
    AMQP_RETRY_DELAY_MS: '100',
    WEBHOOK_POLL_MS: '20',
    ...env,
  });
  running = true;
  await h.createProduct({ id: 'book-1', price: 15_000, stock: 100 });
  client = await connect(broker.url);
  const channel = await client.createChannel();
  // The service declares its topology once it is connected, then consumes its inbox.
  await consumed(names.inbox);
  return { names, channel };
}

/** Resolves once the queue exists and has a consumer. */
function consumed(queue: string) {
  return eventually(async () => {
    const probe = await client!.createChannel();
    probe.on('error', () => undefined);
    return probe.checkQueue(queue).then(
      ({ consumerCount }) => probe.close().then(() => consumerCount > 0),
      () => false,
    );
  });
}

/**
 * Stops the service, which closes its connection: a message it took and did not
 * acknowledge goes back to the queue, where `checkQueue` counts it again.
 */
async function stopService() {
  running = false;
  await h.close();
}

/** An `order.completed` inbox message for one book. */
const order = (id: string, customerId: string) => Buffer.from(JSON.stringify({ id, type: 'order.completed', data: purchase('book-1', 1, 'bk_test_ok', customerId) }));

/**
 * Another connection holds the dead letters' write lock (SQLite's: the whole file's), as a
 * peer process past the lock wait would; returns its release.
 */
async function lockFailedEvents(): Promise<() => Promise<void>> {
  const session = await openSession({ path: h.dbPath, url: h.config.DATABASE_URL });
  const release = await holdWriteLock(session, ['failed_events']);
  return async () => {
    await release();
    await session.close();
  };
}

/** A single number from the service's database (`select … as n`). */
const readNumber = async (sql: string) => (await h.service.db.read.get<{ n: number }>(sql))?.n;

/** A queue of ours bound to every event of the exchange, and what arrives on it. */
async function subscribe(channel: Channel, exchange: string): Promise<ConsumeMessage[]> {
  const { queue } = await channel.assertQueue('', { exclusive: true });
  await channel.bindQueue(queue, exchange, '#');
  const received: ConsumeMessage[] = [];
  await channel.consume(queue, (message) => message && received.push(message), { noAck: true });
  return received;
}

const unpublished = () => readNumber('select count(*) as n from payment_events where published_at is null');
const inboundFailedEvents = () => readNumber("select count(*) as n from failed_events where kind = 'inbound_event'");

describe('RabbitMQ, for real', () => {
  it('publishes every payment event with confirms: persistent, message id = event id, routing key = type', async () => {
    const { names, channel } = await setUp();
    const received = await subscribe(channel, names.exchange);
    const { body } = await h.pay('k-amqp', purchase('book-1'), '?wait=10');
    await eventually(() => received.length === 2);
    expect(received.map((m) => m.fields.routingKey)).toEqual(['payment.created', 'payment.completed']);
    const [created, completed] = received.map((m) => JSON.parse(m.content.toString()) as Record<string, unknown>);
    expect(created).toMatchObject({ type: 'payment.created', paymentId: body.id, sequence: 1 });
    expect(completed).toMatchObject({ type: 'payment.completed', paymentId: body.id, sequence: 2 });
    expect(received[0]!.properties).toMatchObject({ messageId: created!.id, deliveryMode: 2, contentType: 'application/json' });
    await eventually(async () => (await unpublished()) === 0);
  });

  it('turns an inbox message into a payment and acknowledges it once the payment is committed', async () => {
    const { names, channel } = await setUp();
    channel.sendToQueue(names.inbox, order('order-77', 'c-amqp'), { persistent: true });
    const payment = await eventually(async () => (await h.request('GET', '/v1/payments?customerId=c-amqp')).body.data[0]);
    expect(payment).toMatchObject({ amount: 15_000, customerId: 'c-amqp' });
    expect((await h.settled(payment.id)).status).toBe('completed');
    // The same event again (a redelivery) makes no second payment; a new event behind it makes one.
    channel.sendToQueue(names.inbox, order('order-77', 'c-amqp'));
    channel.sendToQueue(names.inbox, order('order-78', 'c-amqp-2'));
    await eventually(async () => (await h.request('GET', '/v1/payments?customerId=c-amqp-2')).body.data.length === 1);
    expect((await h.request('GET', '/v1/payments?customerId=c-amqp')).body.data).toHaveLength(1);
    // messageCount leaves out messages taken and not acknowledged; once the service is gone they are back.
    await stopService();
    expect((await channel.checkQueue(names.inbox)).messageCount).toBe(0);
  });

  it('sends a message that can never pass straight to the DLQ and the failed events, with its headers; an admin retry processes it', async () => {
    const { names, channel } = await setUp();
    const message = { id: 'order-poison', type: 'order.completed', data: purchase('seat-9', 1, 'bk_test_ok', 'c-poison') };
    channel.sendToQueue(names.inbox, Buffer.from(JSON.stringify(message)), {
      persistent: true,
      messageId: 'm-poison',
      correlationId: 'corr-9',
      headers: { 'x-trace-id': 'trace-9', 'x-paystate-last-error': 'forged' },
    });
    const dead = await eventually(async () => {
      const open = (await h.request('GET', '/v1/admin/failed-events?status=open', { headers: admin })).body.data;
      return open.find((e: { kind: string }) => e.kind === 'inbound_event');
    });
    expect(dead).toMatchObject({ paymentId: null, reason: expect.stringContaining('do not exist') });
    // Shown with its billing key masked.
    expect(JSON.parse(dead.message)).toEqual({ ...message, data: { ...message.data, billingKey: '****t_ok' } });
    const inDlq = await channel.get(`${names.inbox}.dlq`, { noAck: true });
    expect(inDlq && JSON.parse(inDlq.content.toString())).toEqual(message);
    expect(inDlq && inDlq.properties).toMatchObject({ messageId: 'm-poison', correlationId: 'corr-9', deliveryMode: 2 });
    // An unknown product (422) fails the same way every time: no retry, and the producer's headers kept beside ours.
    expect(inDlq && inDlq.properties.headers).toEqual({
      'x-trace-id': 'trace-9',
      'x-paystate-retries': 0,
      'x-paystate-last-error': 'Some products do not exist',
    });
    for (const delay of [100, 200]) expect((await channel.checkQueue(`${names.inbox}.retry.${delay}`)).messageCount).toBe(0);

    // The missing product is added; the operator retries the dead letter.
    await h.createProduct({ id: 'seat-9', price: 50_000, stock: 1 });
    const retried = await h.request('POST', `/v1/admin/failed-events/${dead.id}/retry`, { body: { reason: 'product added' }, headers: admin });
    expect(retried.body).toMatchObject({ status: 'retried', kind: 'inbound_event' });
    const payment = (await h.request('GET', '/v1/payments?customerId=c-poison')).body.data[0];
    expect((await h.settled(payment.id)).status).toBe('completed');
  });

  it('retries a message that may pass later once through each delay\'s queue, counting in its own header, then dead-letters it', async () => {
    const { names, channel } = await setUp();
    // The database refuses new payments, as a failing write would: no 4xx, so it may pass later.
    const allow = await refuseWrites(h.service.db, { table: 'payments', event: 'INSERT', message: 'payments refused' });
    // A count the service could not have written (here -5) counts as none.
    channel.sendToQueue(names.inbox, order('order-refused', 'c-refused'), {
      persistent: true,
      messageId: 'm-refused',
      headers: { 'x-trace-id': 'trace-refused', 'x-paystate-retries': -5 },
    });
    const dead = await eventually(async () =>
      (await h.request('GET', '/v1/admin/failed-events?status=open', { headers: admin })).body.data.find((e: { kind: string }) => e.kind === 'inbound_event'),
    );
    expect(dead.reason).toBe('payments refused');
    const inDlq = await channel.get(`${names.inbox}.dlq`, { noAck: true });
    const headers = (inDlq && inDlq.properties.headers) || {};
    expect(headers).toMatchObject({ 'x-trace-id': 'trace-refused', 'x-paystate-retries': 2, 'x-paystate-last-error': 'payments refused' });
    // It waited once in each delay's queue, which dead-lettered it back to the inbox when its TTL expired.
    const deaths = (headers['x-death'] as Array<{ queue: string; reason: string; count: number }>).map(({ queue, reason, count }) => ({ queue, reason, count }));
    expect(deaths).toEqual(
      expect.arrayContaining([
        { queue: `${names.inbox}.retry.100`, reason: 'expired', count: 1 },
        { queue: `${names.inbox}.retry.200`, reason: 'expired', count: 1 },
      ]),
    );
    expect(deaths).toHaveLength(2);

    await allow();
    await h.request('POST', `/v1/admin/failed-events/${dead.id}/retry`, { body: { reason: 'database fixed' }, headers: admin });
    const payment = (await h.request('GET', '/v1/payments?customerId=c-refused')).body.data[0];
    expect((await h.settled(payment.id)).status).toBe('completed');
  });

  it('gives a message back when it cannot even be set aside, and keeps consuming past the prefetch', async () => {
    const { names, channel } = await setUp(await lockWaitEnv(20));
    const dlq = `${names.inbox}.dlq`;
    const release = await lockFailedEvents();
    try {
      // More messages than the prefetch (16), each of a type that starts nothing: each goes to the
      // DLQ, then its failed event cannot be committed.
      for (let i = 0; i < 20; i++) {
        channel.sendToQueue(names.inbox, Buffer.from(JSON.stringify({ id: `order-x-${i}`, type: 'order.unknown', data: {} })), { persistent: true });
      }
      // Copies beyond the prefetch: the messages that failed went back to the queue and came again.
      await eventually(async () => (await channel.checkQueue(dlq)).messageCount > 20);
    } finally {
      await release();
    }
    await eventually(async () => (await inboundFailedEvents()) === 20);
    await eventually(async () => (await channel.checkQueue(names.inbox)).messageCount === 0);
    channel.sendToQueue(names.inbox, order('order-after-lock', 'c-after-lock'), { persistent: true });
    await eventually(async () => (await h.request('GET', '/v1/payments?customerId=c-after-lock')).body.data.length === 1);
    expect(await inboundFailedEvents()).toBe(20);
    await stopService();
    expect((await channel.checkQueue(names.inbox)).messageCount).toBe(0);
  });

  it('consumes again when the broker cancels its consumer (the inbox queue was deleted)', async () => {
    const { names, channel } = await setUp();
    await channel.deleteQueue(names.inbox);
    // The service reconnects, which declares the queue again and consumes it.
    await consumed(names.inbox);
    channel.sendToQueue(names.inbox, order('order-after-delete', 'c-after-delete'), { persistent: true });
    await eventually(async () => (await h.request('GET', '/v1/payments?customerId=c-after-delete')).body.data.length === 1);
  });

  it('publishes again after the broker closed the publishing channel (its exchange was deleted)', async () => {
    const { names, channel } = await setUp();
    await channel.deleteExchange(names.exchange);
    // The first publish finds no exchange: the broker closes the channel (404); the service reconnects and declares it again.
    await h.pay('k-no-exchange', purchase('book-1'), '?wait=10');
    await eventually(async () => (await unpublished()) === 0);
    await channel.checkExchange(names.exchange);
  });

  it('keeps its publish lock while the broker holds back the confirms', async () => {
    proxy = await startTcpProxy(Number(new URL(broker.url).port));
    await setUp({ AMQP_URL: `amqp://guest:guest@${proxy.host}` });
    const lockExpiry = () => readNumber("select expires_at as n from locks where name = 'amqp-publisher'");
    proxy.hold();
    await h.pay('k-held', purchase('book-1'), '?wait=10');
    const taken = await eventually(lockExpiry);
    // Renewed a third of its 30 s TTL later, while the batch still waits for its confirms.
    await eventually(async () => (await lockExpiry())! > taken, 15_000);
    expect(await unpublished()).toBe(2);
    proxy.release();
    await eventually(async () => (await unpublished()) === 0);
  }, 30_000);

  it('dead-letters a message that is not JSON, whose retry then answers 400 and leaves it open', async () => {
    const { names, channel } = await setUp();
    channel.sendToQueue(names.inbox, Buffer.from('{not json'), { persistent: true });
    const dead = await eventually(async () =>
      (await h.request('GET', '/v1/admin/failed-events?status=open', { headers: admin })).body.data.find((e: { kind: string }) => e.kind === 'inbound_event'),
    );
    expect(dead).toMatchObject({ message: '{not json', reason: 'The message is not valid JSON' });
    const retried = await h.request('POST', `/v1/admin/failed-events/${dead.id}/retry`, { headers: admin });
    expect([retried.status, retried.body.code]).toEqual([400, 'invalid_json']);
    const all = await h.request('POST', '/v1/admin/failed-events/retry-all', { headers: admin });
    expect(all.body).toMatchObject({ retried: 0, failed: [{ id: dead.id, code: 'invalid_json' }] });
    expect((await h.request('GET', '/v1/admin/failed-events?status=open', { headers: admin })).body.data).toHaveLength(1);
  });

  it('loses nothing when the broker goes away and comes back: publishing resumes, the consumer reconnects', async () => {
    const { names } = await setUp();
    await broker.stop();
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push((await h.pay(`k-offline-${i}`, purchase('book-1'), '?wait=10')).body.id);
    expect(await unpublished()).toBe(6);
    await broker.start();
    await eventually(async () => (await unpublished()) === 0, 30_000);

    client = await connect(broker.url);
    const channel = await client.createChannel();
    channel.sendToQueue(names.inbox, Buffer.from(JSON.stringify({ id: 'order-after', type: 'order.completed', data: purchase('book-1', 1, 'bk_test_ok', 'c-after') })));
    await eventually(async () => (await h.request('GET', '/v1/payments?customerId=c-after')).body.data.length === 1, 30_000);
    expect(ids).toHaveLength(3);
  }, 90_000);
});
