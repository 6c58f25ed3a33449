import { z } from 'zod';
import type { AttentionStep } from '../../../machines/payment.machine.ts';
import { PAYMENT_EVENT_TYPES } from '../routes/payment-events.ts';
import { timestamp } from './payment-resources.ts';

/** Response schemas of the admin API: dead letters, webhook endpoints and their deliveries. */

/** Typed as a record so that a new attention step of the machine fails to compile until it is described. */
const ATTENTION_STEPS: Record<AttentionStep, string> = {
  voiding: 'void after a failed fulfilment',
  voiding_late_charge: 'void of a late charge',
  releasing: 'stock release after a failed or voided charge',
  returning_stock: 'stock release after a full refund',
  refunding: "a customer's refund",
};

const failedEventCommon = {
  id: z.string().regex(/^\d{1,15}$/).meta({ description: 'a decimal integer, as a string' }),
  reason: z.string().meta({ description: 'the last failure' }),
  status: z.enum(['open', 'retried', 'ignored', 'resolved']),
  createdAt: timestamp,
  updatedAt: timestamp,
  resolvedBy: z.string().nullable().meta({ description: 'the `X-Admin-Actor` who closed it, or `pg`; null while open' }),
  note: z.string().nullable().meta({ description: "the operator's reason; null while open" }),
};

export const failedEventResource = z
  .discriminatedUnion('kind', [
    z.object({
      kind: z.literal('payment_step'),
      paymentId: z.string(),
      step: z.enum(Object.keys(ATTENTION_STEPS) as [AttentionStep, ...AttentionStep[]]).meta({
        description: Object.entries(ATTENTION_STEPS)
          .map(([step, what]) => `\`${step}\`: ${what}`)
          .join('; '),
      }),
      ...failedEventCommon,
    }),
    z.object({
      kind: z.literal('webhook_delivery'),
      paymentId: z.string(),
      eventId: z.string().meta({ description: 'the payment event that was not delivered' }),
      endpointId: z.string().meta({ description: 'the endpoint it was not delivered to' }),
      step: z.literal('webhook_delivery'),
      ...failedEventCommon,
    }),
    z.object({
      kind: z.literal('inbound_event'),
      paymentId: z.null(),
      message: z.string().nullable().meta({ description: 'the raw message as received, billing keys masked to their last four characters' }),
      step: z.literal('inbound_event'),
      ...failedEventCommon,
    }),
  ])
  .meta({ id: 'FailedEvent', description: 'Work Paystate gave up on and hands to an operator (a dead letter).' });

export const retryAllResult = z
  .object({
    retried: z.int().min(0),
    data: z.array(failedEventResource).meta({ description: 'the failed events now `retried`' }),
    failed: z
      .array(z.object({ id: z.string(), code: z.string(), detail: z.string() }))
      .meta({ description: 'failed events whose retry failed; they stay `open`' }),
  })
  .meta({ id: 'RetryAllResult' });

export const reconcilePass = z
  .object({
    scanned: z.int().min(0).meta({ description: 'payments looked at' }),
    resumed: z.int().min(0).meta({ description: 'payments driven on' }),
  })
  .meta({ id: 'ReconcilePass' });

const endpointFields = {
  id: z.string().regex(/^we_[0-9a-f]{16}$/),
  url: z.url(),
  events: z.array(z.enum(['*', ...PAYMENT_EVENT_TYPES])).meta({ description: 'the event types it receives, or `["*"]`' }),
  description: z.string().nullable(),
  disabled: z.boolean(),
  createdAt: timestamp,
};

export const webhookEndpointResource = z.object(endpointFields).meta({ id: 'WebhookEndpoint', description: 'As listed: without its secret.' });

export const webhookEndpointWithSecret = z
  .object({ ...endpointFields, secret: z.string().regex(/^whsec_/).meta({ description: 'the Standard Webhooks signing key of its deliveries' }) })
  .meta({ id: 'WebhookEndpointWithSecret', description: 'As created and as read one by one: with its secret.' });

export const deliveryAttemptResource = z
  .object({
    eventId: z.string(),
    attempt: z.int().min(1),
    status: z.enum(['delivered', 'failed']),
    responseStatus: z.int().nullable().meta({ description: 'null when the endpoint gave no answer' }),
    durationMs: z.int().min(0),
    error: z.string().nullable().meta({ description: 'null when delivered; `HTTP <status>`, `timeout` or a network error otherwise' }),
    at: timestamp,
  })
  .meta({ id: 'DeliveryAttempt' });
