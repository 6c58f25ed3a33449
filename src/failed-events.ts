import { findFailedEvent, resolveFailedEvent, type FailedEventRow } from '../db/attention-repo.ts';
import type { Database } from '../db/connection.ts';
import type { Sql } from '../db/sql.ts';
import { redeliver } from '../db/webhooks-repo.ts';
import { AppError, notFound, paymentBusy } from './errors.ts';
import type { PaymentHost } from './payments/payment-host.ts';

export interface FailedEventActionDeps {
  db: Database;
  host: PaymentHost;
  clock: () => number;
  /** Processes an inbound event's raw message again (its payment is created as if new). */
  reprocessInbound: (payload: string) => Promise<void>;
}

export interface OperatorDecision {
  actor: string;
  reason: string;
}

/**
 * What an operator's retry or ignore of a dead letter does, by its kind: a payment's
 * failed step goes back into its machine (which logs who and why and closes the dead
 * letter in the same transaction); a delivery is sent again from the start of its
 * schedule; an inbound event is processed again. Only open dead letters qualify.
 */
export function createFailedEventActions({ db, host, clock, reprocessInbound }: FailedEventActionDeps) {
  async function openEvent(id: number): Promise<FailedEventRow> {
    const event = await findFailedEvent(db.read, id);
    if (!event) throw notFound(`Failed event ${id}`);
    if (event.status !== 'open') throw new AppError(409, 'invalid_state', `Failed event ${id} is ${event.status}`);
    return event;
  }

  async function toPayment(event: FailedEventRow, type: 'admin.retry' | 'admin.ignore', decision: OperatorDecision) {
    const outcome = await host.deliver(event.paymentId!, { type, failedEventId: String(event.id), ...decision });
    if (outcome === 'refused') throw new AppError(409, 'invalid_state', `Payment ${event.paymentId} does not need attention`);
    if (outcome !== 'accepted') throw paymentBusy();
  }

  const close = (tx: Sql, id: number, status: 'retried' | 'ignored', { actor, reason }: OperatorDecision) =>
    resolveFailedEvent(tx, id, { status, by: actor, note: reason, at: clock() });

  return {
    async retry(id: number, decision: OperatorDecision): Promise<FailedEventRow> {
      const event = await openEvent(id);
      if (event.kind === 'payment_step') await toPayment(event, 'admin.retry', decision);
      if (event.kind === 'webhook_delivery') {
        const sent = await db.commit.run(async (tx) => {
          if (!(await redeliver(tx, event.endpointId!, event.eventId!, clock()))) return false;
          await close(tx, id, 'retried', decision);
          return true;
        });
        if (!sent) throw new AppError(409, 'invalid_state', `The endpoint of failed event ${id} no longer exists; ignore it instead`);
      }
      if (event.kind === 'inbound_event') {
        await reprocessInbound(event.payload!);
        await db.commit.run((tx) => close(tx, id, 'retried', decision));
      }
      return (await findFailedEvent(db.read, id))!;
    },

    async ignore(id: number, decision: OperatorDecision): Promise<FailedEventRow> {
      const event = await openEvent(id);
      if (event.kind === 'payment_step') await toPayment(event, 'admin.ignore', decision);
      else await db.commit.run((tx) => close(tx, id, 'ignored', decision));
      return (await findFailedEvent(db.read, id))!;
    },
  };
}

export type FailedEventActions = ReturnType<typeof createFailedEventActions>;
