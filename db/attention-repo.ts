import { and, asc, eq, isNull, lte, sql } from 'drizzle-orm';
import type { Db } from './connection.ts';
import { alerts, failedEvents } from './schema.ts';

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

/** An alert row, in the caller's transaction; the alert relay posts it later. */
export function insertAlert(db: Db, alert: NewAlert): void {
  db.insert(alerts)
    .values({
      paymentId: alert.paymentId,
      severity: alert.severity,
      title: alert.title,
      details: JSON.stringify(alert.details),
      createdAt: alert.at,
      nextAttemptAt: alert.at,
    })
    .run();
}

/** A failed compensation: a dead letter for the admin API and an urgent alert, in the caller's transaction. */
export function recordAttention(db: Db, attention: NewAttention): void {
  db.insert(failedEvents)
    .values({
      kind: 'payment_step',
      paymentId: attention.paymentId,
      step: attention.step,
      reason: attention.reason,
      status: 'open',
      createdAt: attention.at,
      updatedAt: attention.at,
    })
    .run();
  insertAlert(db, {
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
export function recordDeadDelivery(db: Db, dead: DeadDelivery): void {
  db.insert(failedEvents)
    .values({
      kind: 'webhook_delivery',
      paymentId: dead.paymentId,
      step: 'webhook_delivery',
      reason: dead.reason,
      status: 'open',
      eventId: dead.eventId,
      endpointId: dead.endpointId,
      createdAt: dead.at,
      updatedAt: dead.at,
    })
    .run();
  insertAlert(db, {
    paymentId: dead.paymentId,
    severity: 'warning',
    title: `Event ${dead.eventId} could not be delivered to ${dead.url}`,
    details: { endpointId: dead.endpointId, eventId: dead.eventId, reason: dead.reason },
    at: dead.at,
  });
}

/** A message that starts a payment but could not be processed, kept whole for an operator's retry. */
export function recordFailedInbound(db: Db, failed: { payload: string; reason: string; at: number }): void {
  db.insert(failedEvents)
    .values({
      kind: 'inbound_event',
      paymentId: null,
      step: 'inbound_event',
      reason: failed.reason,
      status: 'open',
      payload: failed.payload,
      createdAt: failed.at,
      updatedAt: failed.at,
    })
    .run();
  insertAlert(db, {
    paymentId: null,
    severity: 'warning',
    title: 'An inbound event could not be processed',
    details: { reason: failed.reason },
    at: failed.at,
  });
}

export function findFailedEvent(db: Db, id: number): FailedEventRow | undefined {
  return db.select().from(failedEvents).where(eq(failedEvents.id, id)).get();
}

export interface Resolution {
  status: 'retried' | 'ignored' | 'resolved';
  by: string;
  note: string;
  at: number;
}

/** An operator retried or ignored a dead letter. Only open ones change. */
export function resolveFailedEvent(db: Db, id: number, resolution: Resolution): void {
  db.update(failedEvents)
    .set({ status: resolution.status, resolvedBy: resolution.by, note: resolution.note, updatedAt: resolution.at })
    .where(and(eq(failedEvents.id, id), eq(failedEvents.status, 'open')))
    .run();
}

/**
 * The payment no longer needs anyone: its open dead letters of failed steps close with the
 * resolution (those of its events' deliveries are another matter, and stay open).
 */
export function resolvePaymentFailedEvents(db: Db, paymentId: string, resolution: Resolution): void {
  db.update(failedEvents)
    .set({ status: resolution.status, resolvedBy: resolution.by, note: resolution.note, updatedAt: resolution.at })
    .where(and(eq(failedEvents.paymentId, paymentId), eq(failedEvents.kind, 'payment_step'), eq(failedEvents.status, 'open')))
    .run();
}

export function listFailedEvents(db: Db, status?: FailedEventRow['status']): FailedEventRow[] {
  return db
    .select()
    .from(failedEvents)
    .where(status ? eq(failedEvents.status, status) : undefined)
    .orderBy(asc(failedEvents.id))
    .all();
}

export function countOpenFailedEvents(db: Db): number {
  return db.select({ count: sql<number>`count(*)` }).from(failedEvents).where(eq(failedEvents.status, 'open')).get()?.count ?? 0;
}

export function dueAlerts(db: Db, now: number, limit: number): AlertRow[] {
  return db
    .select()
    .from(alerts)
    .where(and(isNull(alerts.deliveredAt), lte(alerts.nextAttemptAt, now)))
    .orderBy(asc(alerts.nextAttemptAt))
    .limit(limit)
    .all();
}

/** Claims one delivery attempt; false when another process claimed it first. */
export function claimAlert(db: Db, id: number, now: number, claimMs: number): boolean {
  return (
    db
      .update(alerts)
      .set({ nextAttemptAt: now + claimMs })
      .where(and(eq(alerts.id, id), isNull(alerts.deliveredAt), lte(alerts.nextAttemptAt, now)))
      .run().changes === 1
  );
}

export function markAlertDelivered(db: Db, id: number, now: number): void {
  db.update(alerts).set({ deliveredAt: now }).where(eq(alerts.id, id)).run();
}

export function markAlertFailed(db: Db, id: number, attempts: number, nextAttemptAt: number, error: string): void {
  db.update(alerts).set({ attempts, nextAttemptAt, lastError: error }).where(eq(alerts.id, id)).run();
}
