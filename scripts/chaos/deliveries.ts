import { setTimeout as sleep } from 'node:timers/promises';
import type { HttpClient } from './http-client.ts';
import type { FeedEvent } from './merchant.ts';

const PAGE = 500;
const POLL_MS = 1_000;

/** Every payment event the pull feed lists: those the webhook relay has handed out. */
export async function feedEvents(http: HttpClient, adminToken: string): Promise<FeedEvent[]> {
  const events: FeedEvent[] = [];
  let after = '0';
  for (;;) {
    const reply = await http.send('GET', `/v1/admin/events?limit=${PAGE}&after=${after}`, { headers: { authorization: `Bearer ${adminToken}` } });
    const page = reply.body as { data: FeedEvent[]; nextCursor: string };
    events.push(...page.data);
    if (page.data.length < PAGE) return events;
    after = page.nextCursor;
  }
}

export interface DeliverySources {
  /** The pull feed, read whole. */
  feed(): Promise<FeedEvent[]>;
  /** Events the database holds, handed out yet or not. */
  eventsInDatabase(): Promise<number>;
  /** Whether every one of these has reached the merchant. */
  delivered(events: FeedEvent[]): boolean;
}

export interface Deliveries {
  /** As the pull feed lists them. */
  events: FeedEvent[];
  /** As the database counted them just before. */
  inDatabase: number;
}

/**
 * Waits until the pull feed lists every event the database holds and the merchant has
 * each of them, or the deadline. The feed lists an event only once the relay has handed
 * it out, so the database is counted first: a feed that has not caught up is never taken
 * for the whole outbox.
 */
export async function waitForDeliveries(sources: DeliverySources, deadlineMs: number): Promise<Deliveries> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const inDatabase = await sources.eventsInDatabase();
    const events = await sources.feed();
    if ((events.length >= inDatabase && sources.delivered(events)) || Date.now() > deadline) return { events, inDatabase };
    await sleep(POLL_MS);
  }
}
