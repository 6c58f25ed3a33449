import { z } from 'zod';
import type { ZodOpenApiPathsObject } from 'zod-openapi';
import { cancelBody, listQuery, METADATA_LIMITS, pathId, paymentBody, waitQuery } from '../../schemas.ts';
import { json, jsonBody, operation } from '../operation.ts';
import { cancellationResource, liveSnapshot, paymentResource, transitionEntry } from '../payment-resources.ts';

const tag = 'Payments';

const { depth, keys, keyLength, stringLength, bytes } = METADATA_LIMITS;

/** The payment request as validated; the bounds of `metadata` are a refinement JSON Schema cannot show, so they are said in words. */
export const paymentRequest = paymentBody.extend({
  metadata: paymentBody.shape.metadata.meta({
    description:
      `A JSON object, stored and returned as sent: at most ${depth} levels deep, ${keys} keys in all, ` +
      `keys of at most ${keyLength} characters, strings of at most ${stringLength}, ${bytes} bytes as JSON.`,
  }),
});

const replayedHeaders = (location: boolean) =>
  z.object({
    ...(location ? { Location: z.string().meta({ description: '`/v1/payments/<id>`' }) } : {}),
    'Idempotent-Replayed': z.literal('true').optional().meta({ description: 'on a replay of an earlier request with the same key and body' }),
  });

const noSuchPayment = { 404: { not_found: 'no such payment' } };
export const tooManyStreams = { 503: { too_many_streams: 'this instance serves as many live streams of this kind as it takes (`Retry-After`)' } };
const badId = { 400: { validation_failed: '`id` is not 1–255 characters' } };

export const paymentPaths: ZodOpenApiPathsObject = {
  '/v1/payments': {
    post: operation('post', {
      operationId: 'createPayment',
      summary: 'Buy products: the service prices them, charges the billing key and fulfils the order',
      description:
        'Out of stock and a declined card are not HTTP errors: the payment is created and ends `rejected` or `failed`. ' +
        'With `wait=N` the answer comes when the payment leaves `processing` or after N seconds (still 202).',
      tag,
      idempotencyKey: true,
      requestParams: { query: waitQuery },
      requestBody: jsonBody(paymentRequest),
      responses: { 202: json('the payment (on a replay, as it is now)', paymentResource, replayedHeaders(true)) },
      problems: {
        400: { validation_failed: '`wait` or a body field breaks its rule, or a product appears twice' },
        422: {
          idempotency_key_reused: 'the key was used with a different body',
          unknown_product: 'some products do not exist; one `errors[]` entry per unknown item',
          mixed_partners: 'the items belong to more than one partner',
          mixed_currencies: 'the items are priced in different currencies (cannot happen today: every product is KRW)',
          amount_too_large: 'the computed amount is not a safe integer',
        },
      },
    }),
    get: operation('get', {
      operationId: 'listPayments',
      summary: 'List payments, newest first',
      tag,
      requestParams: { query: listQuery },
      responses: {
        200: json('a page of payments', z.object({ data: z.array(paymentResource), nextCursor: z.string().nullable().meta({ description: 'null on the last page' }) })),
      },
      problems: { 400: { validation_failed: 'a parameter breaks its rule, or the cursor is not one this API made' } },
    }),
  },
  '/v1/payments/{id}': {
    get: operation('get', {
      operationId: 'getPayment',
      summary: 'Read a payment',
      tag,
      requestParams: { path: pathId },
      responses: { 200: json('the payment', paymentResource) },
      problems: { ...badId, ...noSuchPayment },
    }),
  },
  '/v1/payments/{id}/events': {
    get: operation('get', {
      operationId: 'listPaymentTransitions',
      summary: "The payment's transition log, oldest first",
      tag,
      requestParams: { path: pathId },
      responses: { 200: json('every state change', z.object({ data: z.array(transitionEntry) })) },
      problems: { ...badId, ...noSuchPayment },
    }),
  },
  '/v1/payments/{id}/cancellations': {
    get: operation('get', {
      operationId: 'listCancellations',
      summary: "The payment's refunds, oldest first, each with every PG attempt",
      tag,
      requestParams: { path: pathId },
      responses: { 200: json('the refunds', z.object({ data: z.array(cancellationResource) })) },
      problems: { ...badId, ...noSuchPayment },
    }),
  },
  '/v1/payments/{id}/cancel': {
    post: operation('post', {
      operationId: 'cancelPayment',
      summary: 'Refund all or part of a completed or partially cancelled payment',
      description:
        'Without `amount`, everything not yet refunded. Without `wait`, the answer comes once the refund is accepted and committed; ' +
        'with `wait=N`, once it has settled (the payment is no longer `cancel_requested`) or after N seconds.',
      tag,
      idempotencyKey: true,
      requestParams: { path: pathId, query: waitQuery },
      requestBody: jsonBody(cancelBody),
      responses: { 202: json('the payment (on a replay, as it is now)', paymentResource, replayedHeaders(false)) },
      problems: {
        400: { validation_failed: '`wait` or a body field breaks its rule' },
        ...noSuchPayment,
        409: { invalid_state: 'the payment is not `completed` or `partially_cancelled`' },
        422: {
          amount_exceeds_cancellable: '`amount` is more than what is left',
          idempotency_key_reused: 'the key was used on this payment with a different body',
        },
        503: { payment_busy: 'another process holds the payment, or the write was refused; nothing was accepted' },
      },
    }),
  },
  '/v1/payments/{id}/live': {
    get: operation('get', {
      operationId: 'streamPayment',
      summary: 'The payment as it moves, as Server-Sent Events',
      description:
        'An event `snapshot` at once, then one after every committed change, until the client leaves; a `: keep-alive` comment every 15 s. ' +
        'Each event\'s `data:` line is a `LiveSnapshot` (see components).',
      tag,
      requestParams: { path: pathId },
      responses: {
        200: {
          description: 'the stream: `event: snapshot` / `data: <LiveSnapshot JSON>`',
          content: { 'text/event-stream': { schema: z.string() } },
        },
      },
      problems: { ...badId, ...noSuchPayment, ...tooManyStreams },
    }),
  },
};

/** Schemas no operation names directly (the SSE event's data), kept in the document's components. */
export const paymentStreamSchemas = { LiveSnapshot: liveSnapshot };
