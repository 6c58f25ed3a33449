import { paymentEvents } from './schema.ts';
import { selectList } from './select-list.ts';
import { jsonList, type Sql } from './sql.ts';

export type PaymentEventRow = typeof paymentEvents.$inferSelect;
export type NewPaymentEvent = Omit<PaymentEventRow, 'position' | 'sequence' | 'publishedAt' | 'feedPosition'>;

const APPEND_EVENT = `insert into payment_events (id, payment_id, sequence, type, occurred_at, data)
  select @id, @paymentId, coalesce(max(sequence), 0) + 1, @type, @occurredAt, @data
  from payment_events where payment_id = @paymentId`;

/**
 * Appends a payment's next event: its sequence is one more than the last, so a payment's
 * events count 1, 2, 3… without gaps. Runs in the caller's transaction.
 */
export async function appendPaymentEvent(q: Sql, event: NewPaymentEvent): Promise<void> {
  await q.run(APPEND_EVENT, {
    id: event.id,
    paymentId: event.paymentId,
    type: event.type,
    occurredAt: event.occurredAt,
    data: event.data,
  });
}

export interface EventFilter {
  /** Events after this feed position (the pull feed's cursor). */
  after: number;
  paymentId?: string | undefined;
  type?: string | undefined;
  limit: number;
}

/**
 * The pull feed: events handed to the webhook endpoints, in the order they were handed
 * out (see `fanOut`), after a feed position.
 */
export function listPaymentEvents(q: Sql, filter: EventFilter): Promise<PaymentEventRow[]> {
  const conditions = ['feed_position > @after'];
  if (filter.paymentId) conditions.push('payment_id = @paymentId');
  if (filter.type) conditions.push('type = @type');
  return q.all<PaymentEventRow>(
    `select ${selectList(paymentEvents)} from payment_events where ${conditions.join(' and ')} order by feed_position limit @limit`,
    { after: filter.after, paymentId: filter.paymentId ?? null, type: filter.type ?? null, limit: filter.limit },
  );
}

const UNPUBLISHED = `select ${selectList(paymentEvents)} from payment_events where published_at is null order by position limit @limit`;

/** The oldest events the broker has not confirmed yet. */
export function listUnpublishedEvents(q: Sql, limit: number): Promise<PaymentEventRow[]> {
  return q.all<PaymentEventRow>(UNPUBLISHED, { limit });
}

export async function markEventsPublished(q: Sql, positions: number[], at: number): Promise<void> {
  await q.run(`update payment_events set published_at = @at where position in ${jsonList(q, 'positions', 'bigint')}`, {
    at,
    positions: JSON.stringify(positions),
  });
}
