import type { Db } from './connection.ts';
import { prepared, selectList } from './prepared.ts';
import { paymentEvents } from './schema.ts';

export type PaymentEventRow = typeof paymentEvents.$inferSelect;
export type NewPaymentEvent = Omit<PaymentEventRow, 'position' | 'sequence' | 'publishedAt'>;

/**
 * Appends a payment's next event: its sequence is one more than the last, so a payment's
 * events count 1, 2, 3… without gaps. Runs in the caller's transaction.
 */
export function appendPaymentEvent(db: Db, event: NewPaymentEvent): void {
  prepared(db, 'appendPaymentEvent', () =>
    db.$client.prepare(`insert into payment_events (id, payment_id, sequence, type, occurred_at, data)
      select @id, @paymentId, coalesce(max(sequence), 0) + 1, @type, @occurredAt, @data
      from payment_events where payment_id = @paymentId`),
  ).run(event);
}

export interface EventFilter {
  /** Events after this position (the pull feed's cursor). */
  after: number;
  paymentId?: string | undefined;
  type?: string | undefined;
  limit: number;
}

/** Oldest first, from a position on. */
export function listPaymentEvents(db: Db, filter: EventFilter): PaymentEventRow[] {
  const conditions = ['position > @after'];
  if (filter.paymentId) conditions.push('payment_id = @paymentId');
  if (filter.type) conditions.push('type = @type');
  return db.$client
    .prepare(`select ${selectList(paymentEvents)} from payment_events where ${conditions.join(' and ')} order by position limit @limit`)
    .all({ after: filter.after, paymentId: filter.paymentId ?? null, type: filter.type ?? null, limit: filter.limit }) as PaymentEventRow[];
}

/** The oldest events the broker has not confirmed yet. */
export function listUnpublishedEvents(db: Db, limit: number): PaymentEventRow[] {
  return prepared(db, 'listUnpublishedEvents', () =>
    db.$client.prepare(`select ${selectList(paymentEvents)} from payment_events where published_at is null order by position limit ?`),
  ).all(limit) as PaymentEventRow[];
}

export function markEventsPublished(db: Db, positions: number[], at: number): void {
  prepared(db, 'markEventsPublished', () =>
    db.$client.prepare('update payment_events set published_at = @at where position in (select value from json_each(@positions))'),
  ).run({ at, positions: JSON.stringify(positions) });
}
