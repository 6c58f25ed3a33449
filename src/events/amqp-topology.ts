import type { Channel } from 'amqplib';

export interface AmqpNames {
  /** Topic exchange of payment events; routing key = event type. */
  exchange: string;
  /** Messages that start payments. */
  inbox: string;
}

/** The n-th retry (n = 1, 2, …) of a failed inbox message waits `firstDelayMs` × 2^(n−1). */
export const retryDelaysOf = (maxRetries: number, firstDelayMs: number): number[] =>
  Array.from({ length: maxRetries }, (_, n) => firstDelayMs * 2 ** n);

/**
 * One retry queue per delay, holding failed inbox messages for that delay, then
 * dead-lettering them back to the inbox. RabbitMQ expires messages only at a queue's
 * head, so a queue whose messages all share one TTL lets each go on time. Named by the
 * delay, not the step: a new AMQP_RETRY_DELAY_MS declares new queues instead of being
 * refused for redeclaring an old one with another TTL (the old ones still drain).
 */
export const retryQueueOf = (names: AmqpNames, delayMs: number) => `${names.inbox}.retry.${delayMs}`;
/** Where an inbox message lands once its retries are used up, or at once when retrying cannot help. */
export const deadLetterQueueOf = (names: AmqpNames) => `${names.inbox}.dlq`;

/** Declares everything, durable, on every (re)connect: declaring what exists changes nothing. */
export async function assertTopology(channel: Channel, names: AmqpNames, retryDelaysMs: readonly number[]): Promise<void> {
  await channel.assertExchange(names.exchange, 'topic', { durable: true });
  await channel.assertQueue(names.inbox, { durable: true });
  for (const delayMs of retryDelaysMs) {
    await channel.assertQueue(retryQueueOf(names, delayMs), {
      durable: true,
      messageTtl: delayMs,
      // Expired messages go back to the inbox through the default exchange.
      deadLetterExchange: '',
      deadLetterRoutingKey: names.inbox,
    });
  }
  await channel.assertQueue(deadLetterQueueOf(names), { durable: true });
}
