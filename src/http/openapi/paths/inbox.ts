import { z } from 'zod';
import type { ZodOpenApiPathsObject } from 'zod-openapi';
import { envelope } from '../../../events/inbox.ts';
import { json, jsonBody, locationHeader, operation } from '../operation.ts';
import { paymentRequest } from './payments.ts';

/** The route validates the envelope, then `data` as a payment request: the document shows both at once. */
const inboundEvent = envelope.extend({
  type: envelope.shape.type.meta({ description: 'only `order.completed` starts anything; another type is a 422 `unknown_event_type`' }),
  data: paymentRequest,
});

const accepted = z.object({ eventId: z.string(), paymentId: z.string() });

export const inboxPaths: ZodOpenApiPathsObject = {
  '/v1/inbox/events': {
    post: operation('post', {
      operationId: 'receiveInboundEvent',
      summary: "An upstream system's event starts a payment, as POST /v1/payments would",
      description: "The event `id` is its idempotency key. `errors[]` paths inside `data` are relative to it (`items.0.quantity`).",
      tag: 'Inbound events',
      admin: true,
      requestBody: jsonBody(inboundEvent),
      responses: {
        202: json('the payment was created', accepted, locationHeader('`/v1/payments/<paymentId>`')),
        200: json(
          'this id was received before with the same data: nothing new was made',
          accepted,
          z.object({ Location: z.string(), 'Idempotent-Replayed': z.literal('true') }),
        ),
      },
      problems: {
        400: { validation_failed: '`id`, `type` or `data` is missing or breaks its rule' },
        422: {
          unknown_event_type: '`type` is not `order.completed` (checked before `data`)',
          idempotency_key_reused: 'this id was received before with different data',
          unknown_product: 'some products do not exist',
          mixed_partners: 'the items belong to more than one partner',
          mixed_currencies: 'the items are priced in different currencies',
          amount_too_large: 'the computed amount is not a safe integer',
        },
      },
    }),
  },
};
