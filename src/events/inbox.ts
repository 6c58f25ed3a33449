import { z } from 'zod';
import { AppError } from '../errors.ts';
import { IDEMPOTENCY_KEY, paymentBody } from '../http/schemas.ts';
import { validate } from '../http/validate.ts';
import type { CreatePayment } from '../payments/create-payment.ts';

/** Upstream events that start a payment; the only one today (seed 001's completed order). */
export const INBOUND_EVENT_TYPES = ['order.completed'] as const;

export const envelope = z.object({
  id: z.string().regex(IDEMPOTENCY_KEY, '1-255 characters of [A-Za-z0-9_.:-]'),
  type: z.string().min(1).max(100),
  data: z.unknown(),
});

export interface InboundResult {
  eventId: string;
  paymentId: string;
  /** The event was received before: nothing new was made. */
  replayed: boolean;
}

/**
 * Payments started by an event (HTTP or the message broker): the payment is created
 * exactly as POST /v1/payments creates it, keyed by the event id, so the same event
 * twice makes one payment and the same id with another body is refused.
 */
export function createInbox(createPayment: CreatePayment) {
  async function receive(message: unknown): Promise<InboundResult> {
    const { id, type, data } = validate(envelope, message);
    if (!(INBOUND_EVENT_TYPES as readonly string[]).includes(type)) {
      throw new AppError(422, 'unknown_event_type', `Events of type ${type} start nothing; known: ${INBOUND_EVENT_TYPES.join(', ')}`);
    }
    const request = validate(paymentBody, data, ['data']);
    // Its own namespace: '/' is not allowed in an Idempotency-Key, so no client key can name an event's payment.
    const { row, replayed } = await createPayment(`event/${id}`, request);
    return { eventId: id, paymentId: row.id, replayed };
  }

  return {
    receive,
    /** A message as it came off the broker (or was kept in a dead letter): JSON text. */
    receiveRaw(raw: string): Promise<InboundResult> {
      let message: unknown;
      try {
        message = JSON.parse(raw);
      } catch {
        throw new AppError(400, 'invalid_json', 'The message is not valid JSON');
      }
      return receive(message);
    },
  };
}

export type Inbox = ReturnType<typeof createInbox>;
