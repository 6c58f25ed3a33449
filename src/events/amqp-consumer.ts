import type { ConfirmChannel, ConsumeMessage, MessagePropertyHeaders, Options } from 'amqplib';
import { recordFailedInbound } from '../../db/attention-repo.ts';
import type { Database } from '../../db/connection.ts';
import { AppError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { deadLetterQueueOf, retryDelaysOf, retryQueueOf, type AmqpNames } from './amqp-topology.ts';
import type { Inbox, InboundResult } from './inbox.ts';

export interface AmqpConsumerDeps {
  db: Database;
  clock: () => number;
  logger: Logger;
  inbox: Inbox;
  names: AmqpNames;
  /** Tries through the retry queues before a message is dead-lettered. */
  maxRetries: number;
  /** The first retry's delay; it doubles for each one after. */
  retryDelayMs: number;
}

/** How many times this message went through the retry queues (our header, set on each pass). */
const RETRIES = 'x-paystate-retries';
/** Why the last try failed (our header: a producer's headers of its own travel with the copies). */
const LAST_ERROR = 'x-paystate-last-error';
const PREFETCH = 16;

/**
 * The inbox answers 4xx for a message that fails the same way every time (not JSON, not
 * valid, an unknown event type or product, an event id reused with another body): retrying
 * it cannot help. Anything else (the database busy or failing) may pass on a later try.
 */
const isFinal = (error: unknown) => error instanceof AppError && error.status >= 400 && error.status < 500;

/**
 * Our count read back from a message. Any producer can set the header, so only a count
 * we could have written (an integer from 0 to maxRetries) is taken; anything else counts
 * as none. A producer can at most shorten its own message's retries, never lengthen them.
 */
function retriesOf(message: ConsumeMessage, maxRetries: number): number {
  const value: unknown = message.properties.headers?.[RETRIES];
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= maxRetries ? value : 0;
}

/**
 * A copy of the message to set aside, persistent: the producer's descriptive properties
 * and all its headers, plus our count and reason (which replace any the producer set).
 */
function copyOf(message: ConsumeMessage, retries: number, reason: string): Options.Publish {
  const { messageId, contentType, contentEncoding, correlationId, type, appId, timestamp } = message.properties;
  const headers: MessagePropertyHeaders = { ...message.properties.headers, [RETRIES]: retries, [LAST_ERROR]: reason.slice(0, 500) };
  return { persistent: true, messageId, contentType, contentEncoding, correlationId, type, appId, timestamp, headers };
}

/** Sends to a queue and resolves once the broker confirmed this very message (rejects on a nack or a closed channel). */
function sendConfirmed(channel: ConfirmChannel, queue: string, content: Buffer, options: Options.Publish): Promise<void> {
  return new Promise((resolve, reject) => {
    channel.sendToQueue(queue, content, options, (error) => (error ? reject(error) : resolve()));
  });
}

/**
 * Consumes the inbox queue: each message starts a payment as POST /v1/inbox/events does
 * and is acknowledged only once that payment is committed. A message that fails in a way
 * that may pass later goes to the retry queue of its delay (RabbitMQ dead-letters it back
 * when it expires) a bounded number of times; one that will never pass, or is out of
 * retries, goes to the dead-letter queue and into the failed events (kind inbound_event)
 * with its raw content, for an operator.
 */
export function createAmqpConsumer(deps: AmqpConsumerDeps) {
  const log = deps.logger.child({ component: 'amqp-consumer' });
  const retryDelaysMs = retryDelaysOf(deps.maxRetries, deps.retryDelayMs);

  async function handle(channel: ConfirmChannel, message: ConsumeMessage): Promise<void> {
    const raw = message.content.toString('utf8');
    let result: InboundResult;
    try {
      result = await deps.inbox.receiveRaw(raw);
    } catch (error) {
      await setAside(channel, message, raw, error);
      return;
    }
    channel.ack(message);
    log.info({ eventId: result.eventId, paymentId: result.paymentId, replayed: result.replayed }, 'inbox message processed');
  }

  /** Retry later, or give up: the message is copied first and acknowledged once the broker has the copy. */
  async function setAside(channel: ConfirmChannel, message: ConsumeMessage, raw: string, error: unknown): Promise<void> {
    const reason = error instanceof Error ? error.message : String(error);
    const retries = retriesOf(message, deps.maxRetries);
    if (!isFinal(error) && retries < deps.maxRetries) {
      await sendConfirmed(channel, retryQueueOf(deps.names, retryDelaysMs[retries]!), message.content, copyOf(message, retries + 1, reason));
      channel.ack(message);
      log.warn({ messageId: message.properties.messageId, retries: retries + 1, reason }, 'inbox message failed; it will be retried');
      return;
    }
    await sendConfirmed(channel, deadLetterQueueOf(deps.names), message.content, copyOf(message, retries, reason));
    await deps.db.commit.run((tx) => recordFailedInbound(tx, { payload: raw, reason, at: deps.clock() }));
    channel.ack(message);
    log.error({ messageId: message.properties.messageId, reason }, 'inbox message dead-lettered');
  }

  /**
   * The message was neither processed nor set aside: the database or the broker refused
   * (a commit past its busy timeout, a nacked copy). Unacked it would hold one of the
   * prefetch slots for good, so it goes back to the queue, a retry delay later so that a
   * lasting failure does not spin. It was not acknowledged, so it is not lost either way.
   */
  function requeueLater(channel: ConfirmChannel, message: ConsumeMessage, error: unknown): void {
    log.error({ err: error, messageId: message.properties.messageId }, 'inbox message failed unexpectedly; it goes back to the queue');
    setTimeout(() => {
      try {
        channel.nack(message, false, true);
      } catch {
        // The channel closed meanwhile, which gave the message back to the broker already.
      }
    }, deps.retryDelayMs).unref();
  }

  return {
    /** The delays of the retry queues this consumer sends to, first retry first (for the topology). */
    retryDelaysMs,
    /**
     * Starts consuming on a channel of the current connection. If the broker cancels the
     * consumer (the queue was deleted), the channel is closed: the bridge then connects
     * again, which declares the queue and consumes anew.
     */
    async consume(channel: ConfirmChannel): Promise<void> {
      await channel.prefetch(PREFETCH);
      await channel.consume(deps.names.inbox, (message) => {
        if (message) {
          void handle(channel, message).catch((error: unknown) => requeueLater(channel, message, error));
          return;
        }
        log.warn({ queue: deps.names.inbox }, 'the broker cancelled the inbox consumer; reconnecting');
        channel.close().catch(() => undefined);
      });
    },
  };
}

export type AmqpConsumer = ReturnType<typeof createAmqpConsumer>;
