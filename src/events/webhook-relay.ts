import { Webhook } from 'standardwebhooks';
import { request } from 'undici';
import { recordDeadDelivery } from '../../db/attention-repo.ts';
import type { Database } from '../../db/connection.ts';
import {
  claimDeliveries,
  releaseDeliveryClaim,
  dropOrphanDelivery,
  dueDeliveries,
  fanOut,
  hasEventsToFanOut,
  listWebhookEndpoints,
  recordAttempt,
  type DueDelivery,
  type WebhookEndpointRow,
} from '../../db/webhooks-repo.ts';
import type { Logger } from '../logger.ts';
import { startPollingLoop } from '../polling-loop.ts';
import { toPaymentEventResource } from './payment-events.ts';

export interface WebhookRelayDeps {
  db: Database;
  /**
   * How long a write may wait for a lock before it fails busy: SQLite's busy timeout
   * (SQLITE_BUSY_TIMEOUT_MS) or PostgreSQL's lock_timeout (DATABASE_LOCK_TIMEOUT_MS).
   */
  lockWaitMs: number;
  clock: () => number;
  logger: Logger;
  /** This process's id: deliveries are claimed under it. */
  owner: string;
  /** Waits before the 2nd, 3rd, … attempt; when they run out the delivery is dead. */
  retryScheduleMs: number[];
  /** A receiver that has not answered 2xx by then failed. */
  timeoutMs: number;
  pollMs: number;
}

/** Deliveries in flight at once, in all and to one endpoint: a slow endpoint cannot hold up the rest. */
const MAX_IN_FLIGHT = 128;
const MAX_IN_FLIGHT_PER_ENDPOINT = 32;
/** Events handed to the endpoints per round. */
const FAN_OUT_BATCH = 500;
/**
 * How long a claim outlasts the attempt's deadline before another process may take the
 * delivery and send it again: long enough for the attempt's record to commit. The record
 * may wait for a lock as long as the database lets it (`lockWaitMs`), and the deadline
 * itself may fire as late again, since SQLite's batch waiting for the lock blocks the
 * event loop; 5 s more cover the batch. (A margin of one wait let a record that had
 * waited commit after a peer had sent the attempt again.)
 */
function claimMarginMs(lockWaitMs: number): number {
  return 2 * lockWaitMs + 5_000;
}

/**
 * Sends payment events to the merchants' endpoints, signed the Standard Webhooks way:
 * `webhook-id` is the event id on every attempt; a 2xx within the deadline is the only
 * success (a 3xx, or anything else, is retried). Work is claimed in the database, so
 * two processes on one file never send one attempt twice; the retry schedule lives in
 * `next_attempt_at`, so a restart resumes it.
 */
export function startWebhookRelay(deps: WebhookRelayDeps) {
  const { db, clock, owner } = deps;
  const log = deps.logger.child({ component: 'webhook-relay' });
  const claimMs = deps.timeoutMs + claimMarginMs(deps.lockWaitMs);
  const stop = new AbortController();
  const inFlight = new Map<Promise<void>, string>();

  /** The endpoints to send to as last read, with a signer each: re-read every round, and when one is missing. */
  let endpoints = new Map<string, { row: WebhookEndpointRow; signer: Webhook }>();
  async function readEndpoints(): Promise<void> {
    const rows = await listWebhookEndpoints(db.read);
    const known = endpoints;
    endpoints = new Map(
      rows.map((row) => {
        const same = known.get(row.id);
        return [row.id, same?.row.secret === row.secret ? { row, signer: same.signer } : { row, signer: new Webhook(row.secret) }];
      }),
    );
  }

  /**
   * Hands the events written since the last round to the endpoints that want them. The
   * fan-out reads the endpoints itself, in its write transaction: a list read before it
   * could name an endpoint deleted meanwhile, or miss one created meanwhile.
   */
  async function fanOutNewEvents(): Promise<void> {
    if (!(await hasEventsToFanOut(db.read))) return;
    await db.commit.run((tx) => fanOut(tx, FAN_OUT_BATCH, clock()));
  }

  /** Deliveries in flight per endpoint. */
  const busy = new Map<string, number>();
  let dispatching = false;
  let dispatchAgain = false;

  /** Claims what is due and sends it, one batch at a time. */
  async function dispatch(): Promise<void> {
    if (dispatching) {
      dispatchAgain = true;
      return;
    }
    dispatching = true;
    try {
      do {
        dispatchAgain = false;
        await dispatchOnce();
      } while (dispatchAgain && !stop.signal.aborted);
    } finally {
      dispatching = false;
    }
  }

  /** Claims what is due, within the in-flight limits, and sends it. */
  async function dispatchOnce(): Promise<void> {
    const free = MAX_IN_FLIGHT - inFlight.size;
    if (free <= 0) return;
    const due = await dueDeliveries(db.read, clock(), { limit: free, perEndpoint: MAX_IN_FLIGHT_PER_ENDPOINT, inFlight: busy });
    if (due.length === 0) return;
    const claimed = await db.commit.run(async (tx) => {
      // The claim's time starts once the write lock is held, not before waiting for it.
      const taken = new Set(await claimDeliveries(tx, due.map((d) => d.id), owner, clock(), claimMs));
      return due.filter((d) => taken.has(d.id));
    });
    for (const delivery of claimed) {
      busy.set(delivery.endpointId, (busy.get(delivery.endpointId) ?? 0) + 1);
      const sending = attempt(delivery).catch((error: unknown) => log.error({ err: error, deliveryId: delivery.id }, 'delivery failed'));
      inFlight.set(sending, delivery.endpointId);
      void sending.finally(() => settled(sending, delivery.endpointId));
    }
  }

  /**
   * A delivery ended. The next batch is claimed once half of an endpoint's (or all) room
   * is free, not after every single delivery: one query and one claim for many.
   */
  function settled(sending: Promise<void>, endpointId: string): void {
    inFlight.delete(sending);
    const left = (busy.get(endpointId) ?? 1) - 1;
    if (left === 0) busy.delete(endpointId);
    else busy.set(endpointId, left);
    const roomAgain = left === MAX_IN_FLIGHT_PER_ENDPOINT / 2 || left === 0 || inFlight.size === MAX_IN_FLIGHT / 2;
    if (roomAgain && !stop.signal.aborted) dispatch().catch((error: unknown) => log.error({ err: error }, 'webhook dispatch failed'));
  }

  async function attempt(delivery: DueDelivery): Promise<void> {
    const { event } = delivery;
    let endpoint = endpoints.get(delivery.endpointId);
    if (!endpoint) {
      await readEndpoints();
      endpoint = endpoints.get(delivery.endpointId);
    }
    if (!endpoint) {
      await db.commit.run((tx) => dropOrphanDelivery(tx, delivery.id, owner));
      log.info({ deliveryId: delivery.id, endpointId: delivery.endpointId }, 'delivery dropped: its endpoint no longer exists');
      return;
    }
    const payload = JSON.stringify(toPaymentEventResource(event));
    const sentAt = new Date(clock());
    const started = performance.now();
    let responseStatus: number | null = null;
    let error: string | null = null;
    try {
      const response = await request(endpoint.row.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'webhook-id': event.id,
          'webhook-timestamp': String(Math.floor(sentAt.getTime() / 1000)),
          'webhook-signature': endpoint.signer.sign(event.id, sentAt, payload),
        },
        body: payload,
        signal: AbortSignal.any([stop.signal, AbortSignal.timeout(deps.timeoutMs)]),
      });
      await response.body.dump();
      responseStatus = response.statusCode;
    } catch (failure) {
      // Shutting down: the attempt is not over. Its claim is given back so that it is sent
      // again at once after a restart (or by another process), not once the claim expires;
      // the receiver may see it twice, which the webhook-id tells it (at least once).
      if (stop.signal.aborted) {
        await db.commit.run((tx) => releaseDeliveryClaim(tx, delivery.id, owner));
        return;
      }
      error = failure instanceof Error ? (failure.name === 'TimeoutError' ? 'timeout' : failure.message) : String(failure);
    }
    const delivered = responseStatus !== null && responseStatus >= 200 && responseStatus < 300;
    const number = delivery.attempts + 1;
    const wait = deps.retryScheduleMs[number - 1];
    const at = clock();
    const outcome = {
      deliveryId: delivery.id,
      endpointId: delivery.endpointId,
      eventId: event.id,
      attempt: number,
      delivered,
      responseStatus,
      durationMs: Math.round(performance.now() - started),
      error: delivered ? null : (error ?? `HTTP ${responseStatus}`),
      at,
      nextAttemptAt: delivered || wait === undefined ? null : at + wait,
    };
    await db.commit.run(async (tx) => {
      const recorded = await recordAttempt(tx, owner, outcome);
      if (recorded && !delivered && outcome.nextAttemptAt === null) {
        await recordDeadDelivery(tx, {
          paymentId: event.paymentId,
          eventId: event.id,
          endpointId: delivery.endpointId,
          url: withoutCredentials(endpoint.row.url),
          reason: outcome.error ?? 'not delivered',
          at,
        });
      }
    });
    if (!delivered) log.info({ eventId: event.id, endpointId: delivery.endpointId, attempt: number, error: outcome.error }, 'webhook not delivered');
  }

  const loop = startPollingLoop(
    async () => {
      await readEndpoints();
      await fanOutNewEvents();
      await dispatch();
    },
    deps.pollMs,
    (error) => log.error({ err: error }, 'webhook relay round failed'),
  );

  return {
    async stop() {
      stop.abort();
      await loop.stop();
      await Promise.allSettled(inFlight.keys());
    },
  };
}

/**
 * The endpoint's URL as an alert may show it: merchants put tokens in the query string or
 * the userinfo, and alerts reach chat channels.
 */
function withoutCredentials(url: string): string {
  const shown = new URL(url);
  shown.username = '';
  shown.password = '';
  shown.search = '';
  shown.hash = '';
  return shown.href;
}
