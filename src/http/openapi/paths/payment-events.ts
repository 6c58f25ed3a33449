import { z } from 'zod';
import type { ZodOpenApiPathsObject } from 'zod-openapi';
import { deliveriesQuery, endpointBody, endpointId, feedQuery } from '../../routes/payment-events.ts';
import { deliveryAttemptResource, webhookEndpointResource, webhookEndpointWithSecret } from '../admin-resources.ts';
import { json, jsonBody, locationHeader, operation } from '../operation.ts';
import { paymentEventResource } from '../payment-resources.ts';

const badEndpointId = '`id` is not `we_` and 16 lowercase hex digits';
const noSuchEndpoint = { 404: { not_found: 'no such endpoint' } };

export const paymentEventPaths: ZodOpenApiPathsObject = {
  '/v1/admin/events': {
    get: operation('get', {
      operationId: 'listPaymentEvents',
      summary: 'The pull feed of payment events, oldest first',
      description: 'Poll with `after=<nextCursor>`; an empty page means nothing new yet, not the end.',
      tag: 'Payment events',
      admin: true,
      requestParams: { query: feedQuery },
      responses: {
        200: json(
          'the next events',
          z.object({
            data: z.array(paymentEventResource),
            nextCursor: z.string().meta({ description: 'never null: the last event returned, or the `after` sent (`"0"` when none)' }),
          }),
        ),
      },
      problems: { 400: { validation_failed: 'a parameter breaks its rule (an empty or repeated one included)' } },
    }),
  },
  '/v1/admin/webhook-endpoints': {
    post: operation('post', {
      operationId: 'createWebhookEndpoint',
      summary: "Register a merchant's URL to receive payment events",
      tag: 'Webhook endpoints',
      admin: true,
      requestBody: jsonBody(endpointBody),
      responses: { 201: json('the endpoint with its secret: keep it', webhookEndpointWithSecret, locationHeader('`/v1/admin/webhook-endpoints/<id>`')) },
      problems: { 400: { validation_failed: 'a field breaks its rule (a `url` that is not http or https included)' } },
    }),
    get: operation('get', {
      operationId: 'listWebhookEndpoints',
      summary: 'Every endpoint, oldest first, without secrets',
      tag: 'Webhook endpoints',
      admin: true,
      responses: { 200: json('every endpoint (no paging)', z.object({ data: z.array(webhookEndpointResource) })) },
    }),
  },
  '/v1/admin/webhook-endpoints/{id}': {
    get: operation('get', {
      operationId: 'getWebhookEndpoint',
      summary: 'Read an endpoint, with its secret',
      tag: 'Webhook endpoints',
      admin: true,
      requestParams: { path: endpointId },
      responses: { 200: json('the endpoint', webhookEndpointWithSecret) },
      problems: { 400: { validation_failed: badEndpointId }, ...noSuchEndpoint },
    }),
    delete: operation('delete', {
      operationId: 'deleteWebhookEndpoint',
      summary: 'Remove an endpoint; its pending deliveries are dropped',
      tag: 'Webhook endpoints',
      admin: true,
      requestParams: { path: endpointId },
      responses: { 204: { description: 'deleted; no body' } },
      problems: { 400: { validation_failed: badEndpointId }, ...noSuchEndpoint },
    }),
  },
  '/v1/admin/webhook-endpoints/{id}/deliveries': {
    get: operation('get', {
      operationId: 'listDeliveryAttempts',
      summary: 'Every delivery attempt to this endpoint, newest first',
      tag: 'Webhook endpoints',
      admin: true,
      requestParams: { path: endpointId, query: deliveriesQuery },
      responses: { 200: json('the attempts; `[]` before the first', z.object({ data: z.array(deliveryAttemptResource) })) },
      problems: { 400: { validation_failed: `${badEndpointId}, or \`limit\` breaks its rule` }, ...noSuchEndpoint },
    }),
  },
};
