import { z } from 'zod';
import { PUBLIC_STATUSES } from '../../../machines/payment-status.ts';
import { paymentMachine } from '../../../machines/payment.machine.ts';
import { PAYMENT_EVENT_TYPES } from '../routes/payment-events.ts';

/** Response schemas of products and payments (docs/api.md, "Resources"). */

export const timestamp = z.iso.datetime().meta({ id: 'Timestamp', description: 'ISO-8601 UTC, with milliseconds' });
const amount = z.int().min(0).meta({ description: 'integer minor units (KRW has none)' });

/** Every code docs/api.md lists under `failureCode`; a new one must be described there and here. */
const FAILURE_CODES = [
  'out_of_stock',
  'reservation_failed',
  'card_declined',
  'billing_key_not_found',
  'pg_rejected',
  'charge_failed',
  'charge_returned',
  'charge_not_received',
  'fulfilment_failed',
  'compensation_failed',
  'late_charge_voided',
  'resolved_by_operator',
] as const;

export const publicStatus = z.enum(PUBLIC_STATUSES).meta({ id: 'PaymentStatus', description: 'the coarse public status to program against' });

export const productResource = z
  .object({
    id: z.string(),
    name: z.string(),
    price: amount,
    currency: z.string().meta({ example: 'KRW' }),
    stock: z.int().min(0).meta({ description: 'what is still available to reserve' }),
    partnerId: z.string(),
  })
  .meta({ id: 'Product' });

export const paymentResource = z
  .object({
    id: z.string().meta({ description: 'also the PG `paymentId` of the charge', example: 'pay_0mx5dd18gf2b287c46c826a45' }),
    status: publicStatus,
    // Read from the machine itself, so a new top-level state cannot go undescribed.
    state: z.enum(Object.keys(paymentMachine.root.states) as [string, ...string[]]).meta({
      description: "the machine's top-level state, for diagnostics only",
    }),
    amount,
    cancelledAmount: amount.meta({ description: 'money given back so far' }),
    currency: z.string(),
    customerId: z.string(),
    partnerId: z.string(),
    items: z.array(z.object({ productId: z.string(), quantity: z.int().min(1), unitPrice: amount })),
    orderName: z.string(),
    metadata: z.record(z.string(), z.unknown()).nullable().meta({ description: 'as sent, or null' }),
    failureCode: z.enum(FAILURE_CODES).nullable(),
    createdAt: timestamp,
    updatedAt: timestamp,
  })
  .meta({ id: 'Payment' });

export const transitionEntry = z
  .object({
    seq: z.int().min(1),
    type: z.string().meta({ description: 'the event that caused the change (`api.create`, `timer.due`, `xstate.done.actor.chargePayment`, …)' }),
    reason: z.string().meta({
      description:
        "why, in words: a step's answer (`pg.declined card_declined`, `stock.out_of_stock`), `<step>.failed <message>`, " +
        '`webhook: pg.status <PG status>`; otherwise, and on entries older than the field, the event `type`',
    }),
    from: z.string().nullable().meta({ description: 'full state path before; null for the first entry' }),
    to: z.string().meta({ description: 'full state path after (`charging.calling`)' }),
    at: timestamp,
    detail: z
      .record(z.string(), z.unknown())
      .optional()
      .meta({ description: 'only on operator actions: `actor`, `reason`, and `failedEventId` or `outcome`' }),
  })
  .meta({ id: 'TransitionEntry' });

export const cancellationResource = z
  .object({
    id: z.string(),
    amount,
    reason: z.string(),
    status: z.enum(['requested', 'succeeded', 'failed']),
    requestedAt: timestamp,
    completedAt: timestamp.nullable(),
    attempts: z.array(
      z.object({
        at: timestamp,
        outcome: z.enum(['succeeded', 'transient', 'permanent']),
        pgCode: z.string().nullable(),
        message: z.string().nullable(),
      }),
    ),
  })
  .meta({ id: 'Cancellation', description: 'A refund request with every PG cancel call made for it.' });

export const paymentEventResource = z
  .object({
    id: z.string().meta({ description: 'the key to deduplicate by; also `webhook-id` of deliveries' }),
    type: z.enum(PAYMENT_EVENT_TYPES),
    paymentId: z.string(),
    sequence: z.int().min(1),
    occurredAt: timestamp,
    // The payment as it was at that change.
    data: paymentResource,
  })
  .meta({ id: 'PaymentEvent' });

/** One `snapshot` event of `GET /v1/payments/{id}/live` (the `data:` line, JSON). */
export const liveSnapshot = z
  .object({
    status: publicStatus,
    state: z.string().meta({ description: 'the full dotted state path' }),
    value: z.union([z.string(), z.record(z.string(), z.unknown())]).meta({ description: "the machine's state value, as XState shows it" }),
    updatedAt: timestamp,
  })
  .meta({ id: 'LiveSnapshot' });
