import type { ConfirmChannel } from 'amqplib';
import type { Db } from '../../db/connection.ts';
import { listUnpublishedEvents, markEventsPublished } from '../../db/events-repo.ts';
import type { GroupCommit } from '../../db/group-commit.ts';
import { acquireLock, releaseLock } from '../../db/locks-repo.ts';
import type { Logger } from '../logger.ts';
import { toPaymentEventResource } from './payment-events.ts';

export interface AmqpPublisherDeps {
  db: Db;
  commit: GroupCommit;
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
 */
export function createAmqpPublisher({ db, commit, clock, logger, owner, exchange }: AmqpPublisherDeps) {
  const log = logger.child({ component: 'amqp-publisher' });

  /** Publishes what is waiting; returns how many events the broker confirmed. */
  async function publishPending(channel: ConfirmChannel): Promise<number> {
    const events = listUnpublishedEvents(db, BATCH);
    if (events.length === 0) return 0;
    const now = clock();
    // Taken only when there is work: an idle round writes nothing.
    if (!(await commit.run(() => acquireLock(db, LOCK, owner, now, LOCK_TTL_MS)))) return 0;
    for (const event of events) {
      channel.publish(exchange, event.type, Buffer.from(JSON.stringify(toPaymentEventResource(event))), {
        persistent: true,
        messageId: event.id,
        type: event.type,
        contentType: 'application/json',
        timestamp: Math.floor(event.occurredAt / 1000),
      });
    }
    await channel.waitForConfirms();
    await commit.run(() => markEventsPublished(db, events.map((e) => e.position), clock()));
    log.debug({ published: events.length }, 'events published');
    return events.length;
  }

  return {
    publishPending,
    /** Lets another process publish at once (shutdown). */
    release: () => commit.run(() => releaseLock(db, LOCK, owner)),
  };
}

export type AmqpPublisher = ReturnType<typeof createAmqpPublisher>;
