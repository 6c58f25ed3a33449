import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { connect, type Channel, type ChannelModel, type ConsumeMessage } from 'amqplib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startBroker, type Broker } from '../../scripts/lib/rabbitmq.ts';
import { eventually } from '../support/alert-receiver.ts';
import { ADMIN_TOKEN, purchase, startHarness, type Harness } from '../support/harness.ts';

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
let client: ChannelModel | undefined;
let counter = 0;
afterEach(async () => {
  await client?.close().catch(() => undefined);
  client = undefined;
  await h.close();
});

const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };

/** Each test its own exchange and inbox, so one test's messages never reach another. */
async function setUp() {
  counter++;
  const names = { exchange: `test.events.${counter}`, inbox: `test.inbox.${counter}` };
  h = await startHarness({
    AMQP_URL: broker.url,
    AMQP_EXCHANGE: names.exchange,
    AMQP_INBOX_QUEUE: names.inbox,
    AMQP_MAX_RETRIES: '2',
    AMQP_RETRY_DELAY_MS: '100',
    WEBHOOK_POLL_MS: '20',
  });
  await h.createProduct({ id: 'book-1', price: 15_000, stock: 100 });
  client = await connect(broker.url);
  const channel = await client.createChannel();
  // The service declares its topology once it is connected, then consumes its inbox.
  await eventually(async () => {
    const probe = await client!.createChannel();
    probe.on('error', () => undefined);
    return probe.checkQueue(names.inbox).then(
      ({ consumerCount }) => probe.close().then(() => consumerCount > 0),
      () => false,
    );
  });
  return { names, channel };
}

/** A queue of ours bound to every event of the exchange, and what arrives on it. */
async function subscribe(channel: Channel, exchange: string): Promise<ConsumeMessage[]> {
  const { queue } = await channel.assertQueue('', { exclusive: true });
  await channel.bindQueue(queue, exchange, '#');
  const received: ConsumeMessage[] = [];
  await channel.consume(queue, (message) => message && received.push(message), { noAck: true });
  return received;
}

const unpublished = () => {
  const db = new Database(h.dbPath, { readonly: true });
  const count = db.prepare('select count(*) from payment_events where published_at is null').pluck().get() as number;
  db.close();
  return count;
};

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
    await eventually(() => unpublished() === 0);
  });

  it('turns an inbox message into a payment and acknowledges it once the payment is committed', async () => {
    const { names, channel } = await setUp();
    channel.sendToQueue(names.inbox, Buffer.from(JSON.stringify({ id: 'order-77', type: 'order.completed', data: purchase('book-1', 2, 'bk_test_ok', 'c-amqp') })), {
      persistent: true,
    });
    const payment = await eventually(async () => (await h.request('GET', '/v1/payments?customerId=c-amqp')).body.data[0]);
    expect(payment).toMatchObject({ amount: 30_000, customerId: 'c-amqp' });
    expect((await h.settled(payment.id)).status).toBe('completed');
    await eventually(async () => (await channel.checkQueue(names.inbox)).messageCount === 0);
    // The same event again (a redelivery) makes no second payment.
    channel.sendToQueue(names.inbox, Buffer.from(JSON.stringify({ id: 'order-77', type: 'order.completed', data: purchase('book-1', 2, 'bk_test_ok', 'c-amqp') })));
    await eventually(async () => (await channel.checkQueue(names.inbox)).messageCount === 0);
    expect((await h.request('GET', '/v1/payments?customerId=c-amqp')).body.data).toHaveLength(1);
  });

  it('sends a message it cannot process through the retry queue, then to the DLQ and the failed events; an admin retry processes it', async () => {
    const { names, channel } = await setUp();
    const message = { id: 'order-poison', type: 'order.completed', data: purchase('seat-9', 1, 'bk_test_ok', 'c-poison') };
    channel.sendToQueue(names.inbox, Buffer.from(JSON.stringify(message)), { persistent: true, messageId: 'm-poison' });
    const dead = await eventually(async () => {
      const open = (await h.request('GET', '/v1/admin/failed-events?status=open', { headers: admin })).body.data;
      return open.find((e: { kind: string }) => e.kind === 'inbound_event');
    });
    expect(dead).toMatchObject({ paymentId: null, reason: expect.stringContaining('do not exist'), message: JSON.stringify(message) });
    const inDlq = await channel.get(`${names.inbox}.dlq`, { noAck: true });
    expect(inDlq && JSON.parse(inDlq.content.toString())).toEqual(message);
    expect(inDlq && inDlq.properties.messageId).toBe('m-poison');
    // It went through the retry queue AMQP_MAX_RETRIES times first.
    expect(inDlq && inDlq.properties.headers?.['x-paystate-retries']).toBe(2);
    expect((await channel.checkQueue(`${names.inbox}.retry`)).messageCount).toBe(0);

    // The missing product is added; the operator retries the dead letter.
    await h.createProduct({ id: 'seat-9', price: 50_000, stock: 1 });
    const retried = await h.request('POST', `/v1/admin/failed-events/${dead.id}/retry`, { body: { reason: 'product added' }, headers: admin });
    expect(retried.body).toMatchObject({ status: 'retried', kind: 'inbound_event' });
    const payment = (await h.request('GET', '/v1/payments?customerId=c-poison')).body.data[0];
    expect((await h.settled(payment.id)).status).toBe('completed');
  });

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
    expect(unpublished()).toBe(6);
    await broker.start();
    await eventually(() => unpublished() === 0, 30_000);

    client = await connect(broker.url);
    const channel = await client.createChannel();
    channel.sendToQueue(names.inbox, Buffer.from(JSON.stringify({ id: 'order-after', type: 'order.completed', data: purchase('book-1', 1, 'bk_test_ok', 'c-after') })));
    await eventually(async () => (await h.request('GET', '/v1/payments?customerId=c-after')).body.data.length === 1, 30_000);
    expect(ids).toHaveLength(3);
  }, 90_000);
});
