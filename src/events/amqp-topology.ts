import type { Channel } from 'amqplib';

export interface AmqpNames {
  /** Topic exchange of payment events; routing key = event type. */
  exchange: string;
  /** Messages that start payments. */
  inbox: string;
}

/** The retry queue holds a failed inbox message for its TTL, then dead-letters it back to the inbox. */
export const retryQueueOf = (names: AmqpNames) => `${names.inbox}.retry`;
/** Where an inbox message lands once its retries are used up. */
export const deadLetterQueueOf = (names: AmqpNames) => `${names.inbox}.dlq`;

/** Declares everything, durable, on every (re)connect: declaring what exists changes nothing. */
export async function assertTopology(channel: Channel, names: AmqpNames): Promise<void> {
  await channel.assertExchange(names.exchange, 'topic', { durable: true });
  await channel.assertQueue(names.inbox, { durable: true });
  await channel.assertQueue(retryQueueOf(names), {
    durable: true,
    // Expired messages (each carries its own TTL) go back to the inbox through the default exchange.
    deadLetterExchange: '',
    deadLetterRoutingKey: names.inbox,
  });
  await channel.assertQueue(deadLetterQueueOf(names), { durable: true });
}
