import { alerts, failedEvents } from './schema.ts';
import { selectList } from './select-list.ts';
import { jsonList, skipLocked, type Sql } from './sql.ts';

export type FailedEventRow = typeof failedEvents.$inferSelect;
export type AlertRow = typeof alerts.$inferSelect;

export interface NewAttention {
  paymentId: string;
  step: string;
  reason: string;
  at: number;
}

export interface NewAlert {
  paymentId: string | null;
  severity: AlertRow['severity'];
  title: string;
  details: Record<string, unknown>;
  at: number;
}

const INSERT_ALERT = `insert into alerts (payment_id, severity, title, details, created_at, next_attempt_at)
  values (@paymentId, @severity, @title, @details, @at, @at)`;

/** An alert row, in the caller's transaction; the alert relay posts it later. */
export async function insertAlert(q: Sql, alert: NewAlert): Promise<void> {
  await q.run(INSERT_ALERT, {
    paymentId: alert.paymentId,
    severity: alert.severity,
    title: alert.title,
    details: JSON.stringify(alert.details),
    at: alert.at,
  });
}

const INSERT_FAILED_EVENT = `insert into failed_events (kind, payment_id, step, reason, status, event_id, endpoint_id, payload, created_at, updated_at)
  values (@kind, @paymentId, @step, @reason, 'open', @eventId, @endpointId, @payload, @at, @at)`;

interface NewFailedEvent {
  kind: FailedEventRow['kind'];
  paymentId: string | null;
  step: string;
  reason: string;
  eventId?: string;
  endpointId?: string;
  payload?: string;
  at: number;
}

async function insertFailedEvent(q: Sql, failed: NewFailedEvent): Promise<void> {
  await q.run(INSERT_FAILED_EVENT, {
    kind: failed.kind,
    paymentId: failed.paymentId,
    step: failed.step,
    reason: failed.reason,
    eventId: failed.eventId ?? null,
    endpointId: failed.endpointId ?? null,
    payload: failed.payload ?? null,
    at: failed.at,
  });
}

/** A failed compensation: a dead letter for the admin API and an urgent alert, in the caller's transaction. */
export async function recordAttention(q: Sql, attention: NewAttention): Promise<void> {
  await insertFailedEvent(q, {
    kind: 'payment_step',
    paymentId: attention.paymentId,
    step: attention.step,
    reason: attention.reason,
    at: attention.at,
  });
  await insertAlert(q, {
    paymentId: attention.paymentId,
    severity: 'urgent',
    title: `Payment ${attention.paymentId} requires attention`,
    details: { step: attention.step, reason: attention.reason },
    at: attention.at,
  });
}

export interface DeadDelivery {
  paymentId: string;
  eventId: string;
  endpointId: string;
  url: string;
  reason: string;
  at: number;
}

/** An event that ran out of delivery retries: a dead letter an operator can retry, and a warning. */
export async function recordDeadDelivery(q: Sql, dead: DeadDelivery): Promise<void> {
  await insertFailedEvent(q, {
    kind: 'webhook_delivery',
    paymentId: dead.paymentId,
    step: 'webhook_delivery',
    reason: dead.reason,
    eventId: dead.eventId,
    endpointId: dead.endpointId,
    at: dead.at,
  });
  await insertAlert(q, {
    paymentId: dead.paymentId,
    severity: 'warning',
    title: `Event ${dead.eventId} could not be delivered to ${dead.url}`,
    details: { endpointId: dead.endpointId, eventId: dead.eventId, reason: dead.reason },
    at: dead.at,
  });
}

/** A message that starts a payment but could not be processed, kept whole for an operator's retry. */
export async function recordFailedInbound(q: Sql, failed: { payload: string; reason: string; at: number }): Promise<void> {
  await insertFailedEvent(q, {
    kind: 'inbound_event',
    paymentId: null,
    step: 'inbound_event',
    reason: failed.reason,
    payload: failed.payload,
    at: failed.at,
  });
  await insertAlert(q, {
    paymentId: null,
    severity: 'warning',
    title: 'An inbound event could not be processed',
    details: { reason: failed.reason },
    at: failed.at,
  });
}

const FAILED_EVENT_COLUMNS = selectList(failedEvents);

export function findFailedEvent(q: Sql, id: number): Promise<FailedEventRow | undefined> {
  return q.get<FailedEventRow>(`select ${FAILED_EVENT_COLUMNS} from failed_events where id = @id`, { id });
}

export interface Resolution {
  status: 'retried' | 'ignored' | 'resolved';
  by: string;
  note: string;
  at: number;
}

const RESOLVE = 'status = @status, resolved_by = @by, note = @note, updated_at = @at';

/** An operator retried or ignored a dead letter. Only open ones change. */
export async function resolveFailedEvent(q: Sql, id: number, resolution: Resolution): Promise<void> {
  await q.run(`update failed_events set ${RESOLVE} where id = @id and status = 'open'`, { id, ...resolution });
}

/**
 * The payment no longer needs anyone: its open dead letters of failed steps close with the
 * resolution (those of its events' deliveries are another matter, and stay open).
 */
export async function resolvePaymentFailedEvents(q: Sql, paymentId: string, resolution: Resolution): Promise<void> {
  await q.run(`update failed_events set ${RESOLVE} where payment_id = @paymentId and kind = 'payment_step' and status = 'open'`, {
    paymentId,
    ...resolution,
  });
}

export function listFailedEvents(q: Sql, status?: FailedEventRow['status']): Promise<FailedEventRow[]> {
  return status
    ? q.all<FailedEventRow>(`select ${FAILED_EVENT_COLUMNS} from failed_events where status = @status order by id`, { status })
    : q.all<FailedEventRow>(`select ${FAILED_EVENT_COLUMNS} from failed_events order by id`);
}

export async function countOpenFailedEvents(q: Sql): Promise<number> {
  return (await q.get<{ count: number }>(`select count(*) as count from failed_events where status = 'open'`))?.count ?? 0;
}

const DUE_ALERTS = `select ${selectList(alerts)} from alerts
  where delivered_at is null and next_attempt_at <= @now order by next_attempt_at limit @limit`;

export function dueAlerts(q: Sql, now: number, limit: number): Promise<AlertRow[]> {
  return q.all<AlertRow>(DUE_ALERTS, { now, limit });
}

/**
 * Claims one delivery attempt of each of the alerts `ids` still due; returns the ids
 * claimed. Left out: those another process claimed first or is claiming at this moment
 * (passed over, not waited for).
 */
export async function claimAlerts(q: Sql, ids: number[], now: number, claimMs: number): Promise<number[]> {
  if (ids.length === 0) return [];
  const rows = await q.all<{ id: number }>(
    `update alerts set next_attempt_at = @until
      where id in (select id from alerts where id in ${jsonList(q, 'ids', 'bigint')}
        and delivered_at is null and next_attempt_at <= @now ${skipLocked(q)})
      returning id`,
    { ids: JSON.stringify(ids), now, until: now + claimMs },
  );
  return rows.map((row) => row.id);
}

export async function markAlertDelivered(q: Sql, id: number, now: number): Promise<void> {
  await q.run('update alerts set delivered_at = @now where id = @id', { id, now });
}

export async function markAlertFailed(q: Sql, id: number, attempts: number, nextAttemptAt: number, error: string): Promise<void> {
  await q.run('update alerts set attempts = @attempts, next_attempt_at = @nextAttemptAt, last_error = @error where id = @id', {
    id,
    attempts,
    nextAttemptAt,
    error,
  });
}
