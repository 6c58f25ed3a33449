import type { ConfirmChannel, ConsumeMessage } from 'amqplib';
import { recordFailedInbound } from '../../db/attention-repo.ts';
import type { Db } from '../../db/connection.ts';
import type { GroupCommit } from '../../db/group-commit.ts';
import type { Logger } from '../logger.ts';
import { deadLetterQueueOf, retryQueueOf, type AmqpNames } from './amqp-topology.ts';
import type { Inbox } from './inbox.ts';

export interface AmqpConsumerDeps {
  db: Db;
  commit: GroupCommit;
  clock: () => number;
  logger: Logger;
  inbox: Inbox;
  names: AmqpNames;
  /** Tries through the retry queue before a message is dead-lettered. */
  maxRetries: number;
  /** The first retry's delay; it doubles for each one after. */
  retryDelayMs: number;
}

/** How many times this message went through the retry queue (our header, set on each pass). */
const ATTEMPTS = 'x-paystate-retries';

/**
 * Consumes the inbox queue: each message starts a payment as POST /v1/inbox/events does
 * and is acknowledged only once that payment is committed. A message that cannot be
 * processed goes to the retry queue with a growing TTL (RabbitMQ dead-letters it back
 * when it expires) a bounded number of times, then to the dead-letter queue and into
 * the failed events (kind inbound_event) with its raw content, for an operator.
 */
export function createAmqpConsumer(deps: AmqpConsumerDeps) {
  const log = deps.logger.child({ component: 'amqp-consumer' });

  async function handle(channel: ConfirmChannel, message: ConsumeMessage): Promise<void> {
    const raw = message.content.toString('utf8');
    try {
      const result = await deps.inbox.receiveRaw(raw);
      channel.ack(message);
      log.info({ eventId: result.eventId, paymentId: result.paymentId, replayed: result.replayed }, 'inbox message processed');
    } catch (error) {
      await setAside(channel, message, raw, error);
    }
  }

  /** Retry later, or give up: the message is moved first and acknowledged after the broker has it. */
  async function setAside(channel: ConfirmChannel, message: ConsumeMessage, raw: string, error: unknown): Promise<void> {
    const reason = error instanceof Error ? error.message : String(error);
    const retries = Number(message.properties.headers?.[ATTEMPTS] ?? 0);
    const properties = { persistent: true, messageId: message.properties.messageId, contentType: message.properties.contentType };
    if (retries < deps.maxRetries) {
      channel.sendToQueue(retryQueueOf(deps.names), message.content, {
        ...properties,
        headers: { [ATTEMPTS]: retries + 1, 'x-last-error': reason.slice(0, 500) },
        expiration: String(deps.retryDelayMs * 2 ** retries),
      });
      await channel.waitForConfirms();
      channel.ack(message);
      log.warn({ messageId: message.properties.messageId, retries: retries + 1, reason }, 'inbox message failed; it will be retried');
      return;
    }
    channel.sendToQueue(deadLetterQueueOf(deps.names), message.content, {
      ...properties,
      headers: { [ATTEMPTS]: retries, 'x-last-error': reason.slice(0, 500) },
    });
    await channel.waitForConfirms();
    await deps.commit.run(() => recordFailedInbound(deps.db, { payload: raw, reason, at: deps.clock() }));
    channel.ack(message);
    log.error({ messageId: message.properties.messageId, reason }, 'inbox message dead-lettered');
  }

  return {
    /** Starts consuming on a channel of the current connection. */
    async consume(channel: ConfirmChannel): Promise<void> {
      await channel.prefetch(16);
      await channel.consume(deps.names.inbox, (message) => {
        if (message) void handle(channel, message).catch((error: unknown) => log.error({ err: error }, 'inbox message left unacknowledged'));
      });
    },
  };
}

export type AmqpConsumer = ReturnType<typeof createAmqpConsumer>;
