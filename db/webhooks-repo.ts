import { and, desc, eq } from 'drizzle-orm';
import type { Db } from './connection.ts';
import { prepared, selectList } from './prepared.ts';
import type { PaymentEventRow } from './events-repo.ts';
import { cursors, paymentEvents, webhookAttempts, webhookDeliveries, webhookEndpoints } from './schema.ts';

export type WebhookEndpointRow = typeof webhookEndpoints.$inferSelect;
export type WebhookDeliveryRow = typeof webhookDeliveries.$inferSelect;
export type WebhookAttemptRow = typeof webhookAttempts.$inferSelect;

export function insertWebhookEndpoint(db: Db, endpoint: typeof webhookEndpoints.$inferInsert): void {
  db.insert(webhookEndpoints).values(endpoint).run();
}

export function findWebhookEndpoint(db: Db, id: string): WebhookEndpointRow | undefined {
  return db.select().from(webhookEndpoints).where(eq(webhookEndpoints.id, id)).get();
}

export function listWebhookEndpoints(db: Db): WebhookEndpointRow[] {
  return db.select().from(webhookEndpoints).orderBy(webhookEndpoints.createdAt, webhookEndpoints.id).all();
}

/** Removes an endpoint and its deliveries (nothing more is sent to it); true when it existed. */
export function deleteWebhookEndpoint(db: Db, id: string): boolean {
  db.delete(webhookDeliveries).where(eq(webhookDeliveries.endpointId, id)).run();
  return db.delete(webhookEndpoints).where(eq(webhookEndpoints.id, id)).run().changes === 1;
}

const FAN_OUT = 'webhook_fan_out';

/** The position up to which events were handed to the endpoints. */
export function fanOutPosition(db: Db): number {
  const row = db.select().from(cursors).where(eq(cursors.name, FAN_OUT)).get();
  return row?.position ?? 0;
}

export interface FanOutEvent {
  position: number;
  id: string;
  paymentId: string;
  sequence: number;
  type: string;
}

/** Events after a position, oldest first: what the fan-out hands to the endpoints next. */
export function eventsAfter(db: Db, position: number, limit: number): FanOutEvent[] {
  return prepared(db, 'eventsAfter', () =>
    db.$client.prepare(
      `select ${selectList(paymentEvents, ['position', 'id', 'paymentId', 'sequence', 'type'])}
       from payment_events where position > ? order by position limit ?`,
    ),
  ).all(position, limit) as FanOutEvent[];
}

/**
 * Creates the deliveries of these events to the endpoints that want them and moves the
 * cursor past them, in one transaction. Two processes may do it at once: the cursor only
 * moves from where each found it, and a delivery exists once per endpoint and event.
 */
export function fanOut(db: Db, from: number, events: FanOutEvent[], endpoints: WebhookEndpointRow[], now: number): boolean {
  const insert = prepared(db, 'insertDelivery', () =>
    db.$client.prepare(`insert into webhook_deliveries (endpoint_id, event_id, payment_id, sequence, status, next_attempt_at)
      values (@endpointId, @eventId, @paymentId, @sequence, 'pending', @now) on conflict do nothing`),
  );
  const advance = prepared(db, 'advanceFanOut', () =>
    db.$client.prepare(`insert into cursors (name, position) values (@name, @to)
      on conflict (name) do update set position = @to where position = @from`),
  );
  const wanted = endpoints.map((e) => ({ id: e.id, types: new Set(JSON.parse(e.events) as string[]) }));
  for (const event of events) {
    for (const endpoint of wanted) {
      if (!endpoint.types.has('*') && !endpoint.types.has(event.type)) continue;
      insert.run({ endpointId: endpoint.id, eventId: event.id, paymentId: event.paymentId, sequence: event.sequence, now });
    }
  }
  const to = events.at(-1)?.position ?? from;
  return advance.run({ name: FAN_OUT, from, to }).changes === 1;
}

/** A delivery that is due, with its event: all an attempt needs but the endpoint. */
export interface DueDelivery {
  id: number;
  endpointId: string;
  attempts: number;
  event: Omit<PaymentEventRow, 'position' | 'publishedAt'>;
}

/**
 * Pending deliveries whose time has come and that nobody holds, each the earliest pending
 * one of its payment at its endpoint: a payment's events go out in sequence order, while
 * other payments and other endpoints are never held up by it.
 */
export function dueDeliveries(db: Db, now: number, limit: number): DueDelivery[] {
  const rows = prepared(db, 'dueDeliveries', () =>
    db.$client.prepare(`select d.id, d.endpoint_id as endpointId, d.attempts, ev.id as eventId, ev.payment_id as paymentId,
        ev.sequence, ev.type, ev.occurred_at as occurredAt, ev.data
      from webhook_deliveries d join payment_events ev on ev.id = d.event_id
      where d.status = 'pending' and d.next_attempt_at <= @now and (d.claimed_until is null or d.claimed_until < @now)
        and not exists (select 1 from webhook_deliveries e
          where e.endpoint_id = d.endpoint_id and e.payment_id = d.payment_id and e.sequence < d.sequence and e.status = 'pending')
      order by d.next_attempt_at limit @limit`),
  ).all({ now, limit }) as Array<{ id: number; endpointId: string; attempts: number; eventId: string } & Omit<DueDelivery['event'], 'id'>>;
  return rows.map(({ id, endpointId, attempts, eventId, ...event }) => ({ id, endpointId, attempts, event: { id: eventId, ...event } }));
}

/** Takes one attempt of a delivery; false when another process took it first. */
export function claimDelivery(db: Db, id: number, owner: string, now: number, untilMs: number): boolean {
  return (
    prepared(db, 'claimDelivery', () =>
      db.$client.prepare(`update webhook_deliveries set claimed_by = @owner, claimed_until = @until
        where id = @id and status = 'pending' and (claimed_until is null or claimed_until < @now)`),
    ).run({ id, owner, now, until: now + untilMs }).changes === 1
  );
}

export interface AttemptOutcome {
  deliveryId: number;
  endpointId: string;
  eventId: string;
  attempt: number;
  delivered: boolean;
  responseStatus: number | null;
  durationMs: number;
  error: string | null;
  at: number;
  /** When to try again; null: delivered, or no attempt left (the delivery is dead). */
  nextAttemptAt: number | null;
}

/**
 * Records an attempt and what it means for its delivery, only while `owner` still holds
 * it (a claim that outlived its holder must not overwrite the next holder's attempt).
 */
export function recordAttempt(db: Db, owner: string, outcome: AttemptOutcome): boolean {
  const status = outcome.delivered ? 'delivered' : outcome.nextAttemptAt === null ? 'dead' : 'pending';
  const changed = prepared(db, 'settleDelivery', () =>
    db.$client.prepare(`update webhook_deliveries set status = @status, attempts = @attempt,
        next_attempt_at = coalesce(@nextAttemptAt, next_attempt_at), claimed_by = null, claimed_until = null,
        delivered_at = case when @status = 'delivered' then @at else delivered_at end, last_error = @error
      where id = @deliveryId and claimed_by = @owner and status = 'pending'`),
  ).run({ ...outcome, status, owner });
  if (changed.changes === 0) return false;
  prepared(db, 'insertAttempt', () =>
    db.$client.prepare(`insert into webhook_attempts (delivery_id, endpoint_id, event_id, attempt, status, response_status, duration_ms, error, at)
      values (@deliveryId, @endpointId, @eventId, @attempt, @attemptStatus, @responseStatus, @durationMs, @error, @at)`),
  ).run({ ...outcome, attemptStatus: outcome.delivered ? 'delivered' : 'failed' });
  return true;
}

/** A dead delivery goes out again from the start of the schedule (an operator's retry). */
export function redeliver(db: Db, endpointId: string, eventId: string, now: number): boolean {
  return (
    db
      .update(webhookDeliveries)
      .set({ status: 'pending', attempts: 0, nextAttemptAt: now, claimedBy: null, claimedUntil: null })
      .where(and(eq(webhookDeliveries.endpointId, endpointId), eq(webhookDeliveries.eventId, eventId), eq(webhookDeliveries.status, 'dead')))
      .run().changes === 1
  );
}

export function listAttempts(db: Db, endpointId: string, limit: number): WebhookAttemptRow[] {
  return db
    .select()
    .from(webhookAttempts)
    .where(eq(webhookAttempts.endpointId, endpointId))
    .orderBy(desc(webhookAttempts.id))
    .limit(limit)
    .all();
}
