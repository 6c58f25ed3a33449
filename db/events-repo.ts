import { paymentEvents } from './schema.ts';
import { selectList } from './select-list.ts';
import { insertEvery, jsonList, jsonRows, type JsonRow, type Sql, type Tx } from './sql.ts';

export type PaymentEventRow = typeof paymentEvents.$inferSelect;
export type NewPaymentEvent = Omit<PaymentEventRow, 'position' | 'sequence' | 'publishedAt' | 'feedPosition'>;

const EVENT_COLUMNS = { id: 'text', payment_id: 'text', type: 'text', occurred_at: 'bigint', data: 'text' } as const;

/** Each payment's events count on from its last: 1, 2, 3… without gaps, in the order they came. */
const appendEventRows = (q: Sql) => `insert into payment_events (id, payment_id, sequence, type, occurred_at, data)
  select r.id, r.payment_id,
    coalesce((select max(e.sequence) from payment_events e where e.payment_id = r.payment_id), 0)
      + row_number() over (partition by r.payment_id order by r.ord),
    r.type, r.occurred_at, r.data
  from ${jsonRows(q, 'rows', EVENT_COLUMNS)}
  order by r.ord`;

const appendEvents = insertEvery<JsonRow<typeof EVENT_COLUMNS>>(appendEventRows);

/** Appends a payment's next event, in the caller's transaction, with the batch's others (see `appendEventRows`). */
export function appendPaymentEvent(tx: Tx, event: NewPaymentEvent): Promise<void> {
  return tx.later(appendEvents, {
    id: event.id,
    payment_id: event.paymentId,
    type: event.type,
    occurred_at: event.occurredAt,
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
