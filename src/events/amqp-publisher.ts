import type { ConfirmChannel } from 'amqplib';
import type { Database } from '../../db/connection.ts';
import { listUnpublishedEvents, markEventsPublished } from '../../db/events-repo.ts';
import { acquireLock, releaseLock } from '../../db/locks-repo.ts';
import type { Logger } from '../logger.ts';
import { toPaymentEventResource } from './payment-events.ts';

export interface AmqpPublisherDeps {
  db: Database;
  clock: () => number;
  logger: Logger;
  owner: string;
  exchange: string;
}

const LOCK = 'amqp-publisher';
/** Held while this process publishes; another takes over once it lapses (its holder died). */
const LOCK_TTL_MS = 30_000;
const BATCH = 200;

/**
 * Publishes the outbox to the topic exchange, oldest first, persistent, message id = event
 * id, routing key = event type. An event counts as published only once the broker
 * confirmed it: until then it stays in the outbox, so a broker that goes away loses
 * nothing and publishing resumes from the first unconfirmed event. One process publishes
 * at a time (a lock row), which keeps each payment's events in order on the exchange.
 *
 * Not `mandatory`: merchants bind their own queues to the exchange, and an event no queue
 * wants (no binding for its type yet) is theirs to miss, not a failure of ours; the feed
 * keeps every event for a consumer that binds late. The broker confirms such a message
 * and drops it, and it counts as published.
 */
export function createAmqpPublisher({ db, clock, logger, owner, exchange }: AmqpPublisherDeps) {
  const log = logger.child({ component: 'amqp-publisher' });
  const takeLock = () => db.commit.run((tx) => acquireLock(tx, LOCK, owner, clock(), LOCK_TTL_MS));

  function renewLock(): void {
    takeLock().then(
      (held) => {
        if (!held) log.warn('the publish lock lapsed to another process while waiting for confirms; events may be published twice');
      },
      (error: unknown) => log.warn({ err: error }, 'could not renew the publish lock; trying again'),
    );
  }

  /**
   * Waits for the broker's confirms while renewing the lock: a broker that blocks the
   * connection (a resource alarm) can hold them past the lock's TTL, and a peer that
   * took the lapsed lock would publish the same batch again.
   */
  async function confirmHoldingLock(channel: ConfirmChannel): Promise<void> {
    const renewal = setInterval(renewLock, LOCK_TTL_MS / 3);
    try {
      await channel.waitForConfirms();
    } finally {
      clearInterval(renewal);
    }
  }

  /** Publishes what is waiting; returns how many events the broker confirmed. */
  async function publishPending(channel: ConfirmChannel): Promise<number> {
    const events = await listUnpublishedEvents(db.read, BATCH);
    if (events.length === 0) return 0;
    // Taken only when there is work: an idle round writes nothing.
    if (!(await takeLock())) return 0;
    for (const event of events) {
      channel.publish(exchange, event.type, Buffer.from(JSON.stringify(toPaymentEventResource(event))), {
        persistent: true,
        messageId: event.id,
        type: event.type,
        contentType: 'application/json',
        timestamp: Math.floor(event.occurredAt / 1000),
      });
    }
    await confirmHoldingLock(channel);
    await db.commit.run((tx) => markEventsPublished(tx, events.map((e) => e.position), clock()));
    log.debug({ published: events.length }, 'events published');
    return events.length;
  }

  return {
    publishPending,
    /** Lets another process publish at once (shutdown). */
    release: () => db.commit.run((tx) => releaseLock(tx, LOCK, owner)),
  };
}

export type AmqpPublisher = ReturnType<typeof createAmqpPublisher>;
