import { findFailedEvent, resolveFailedEvent, type FailedEventRow } from '../db/attention-repo.ts';
import type { Db } from '../db/connection.ts';
import type { GroupCommit } from '../db/group-commit.ts';
import { redeliver } from '../db/webhooks-repo.ts';
import { AppError, notFound, paymentBusy } from './errors.ts';
import type { PaymentHost } from './payments/payment-host.ts';

export interface FailedEventActionDeps {
  db: Db;
  commit: GroupCommit;
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
export function createFailedEventActions({ db, commit, host, clock, reprocessInbound }: FailedEventActionDeps) {
  function openEvent(id: number): FailedEventRow {
    const event = findFailedEvent(db, id);
    if (!event) throw notFound(`Failed event ${id}`);
    if (event.status !== 'open') throw new AppError(409, 'invalid_state', `Failed event ${id} is ${event.status}`);
    return event;
  }

  async function toPayment(event: FailedEventRow, type: 'admin.retry' | 'admin.ignore', decision: OperatorDecision) {
    const outcome = await host.deliver(event.paymentId!, { type, failedEventId: String(event.id), ...decision });
    if (outcome === 'refused') throw new AppError(409, 'invalid_state', `Payment ${event.paymentId} does not need attention`);
    if (outcome !== 'accepted') throw paymentBusy();
  }

  const close = (id: number, status: 'retried' | 'ignored', { actor, reason }: OperatorDecision) =>
    resolveFailedEvent(db, id, { status, by: actor, note: reason, at: clock() });

  return {
    async retry(id: number, decision: OperatorDecision): Promise<FailedEventRow> {
      const event = openEvent(id);
      if (event.kind === 'payment_step') await toPayment(event, 'admin.retry', decision);
      if (event.kind === 'webhook_delivery') {
        const sent = await commit.run(() => {
          if (!redeliver(db, event.endpointId!, event.eventId!, clock())) return false;
          close(id, 'retried', decision);
          return true;
        });
        if (!sent) throw new AppError(409, 'invalid_state', `The endpoint of failed event ${id} no longer exists; ignore it instead`);
      }
      if (event.kind === 'inbound_event') {
        await reprocessInbound(event.payload!);
        await commit.run(() => close(id, 'retried', decision));
      }
      return findFailedEvent(db, id)!;
    },

    async ignore(id: number, decision: OperatorDecision): Promise<FailedEventRow> {
      const event = openEvent(id);
      if (event.kind === 'payment_step') await toPayment(event, 'admin.ignore', decision);
      else await commit.run(() => close(id, 'ignored', decision));
      return findFailedEvent(db, id)!;
    },
  };
}

export type FailedEventActions = ReturnType<typeof createFailedEventActions>;
