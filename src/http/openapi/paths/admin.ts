import { z } from 'zod';
import type { ZodOpenApiPathsObject } from 'zod-openapi';
import { eventId, failedEventsQuery, ignoreBody, resolveBody, retryBody } from '../../routes/admin.ts';
import { pathId } from '../../schemas.ts';
import { failedEventResource, reconcilePass, retryAllResult } from '../admin-resources.ts';
import { json, jsonBody, operation } from '../operation.ts';
import { paymentResource } from '../payment-resources.ts';

const tag = 'Admin';

const closeProblems = {
  400: { validation_failed: '`id` is not a decimal integer (1–15 digits), or `reason` breaks its rule' },
  404: { not_found: 'no such failed event' },
  409: { invalid_state: 'the failed event is not `open`, or its payment no longer needs attention' },
  503: { payment_busy: '`payment_step`: another process holds the payment, or the write was refused' },
};

export const adminPaths: ZodOpenApiPathsObject = {
  '/v1/admin/failed-events': {
    get: operation('get', {
      operationId: 'listFailedEvents',
      summary: 'Dead letters of every kind, oldest first',
      tag,
      admin: true,
      requestParams: { query: failedEventsQuery },
      responses: { 200: json('every match (no paging)', z.object({ data: z.array(failedEventResource) })) },
      problems: { 400: { validation_failed: 'another `status`' } },
    }),
  },
  '/v1/admin/failed-events/retry-all': {
    post: operation('post', {
      operationId: 'retryAllFailedEvents',
      summary: 'Retry every open failed event, oldest first',
      tag,
      admin: true,
      actor: true,
      requestBody: jsonBody(retryBody, false),
      responses: { 200: json('what was retried, and what could not be', retryAllResult) },
      problems: { 400: { validation_failed: '`reason` breaks its rule' } },
    }),
  },
  '/v1/admin/failed-events/{id}/retry': {
    post: operation('post', {
      operationId: 'retryFailedEvent',
      summary: 'Try the failed work again',
      description:
        '`payment_step`: the payment goes back into the step that failed. `webhook_delivery`: delivery starts again from the start of the schedule. ' +
        '`inbound_event`: the message is processed again at once; when that fails, the answer is its error and the failed event stays open.',
      tag,
      admin: true,
      actor: true,
      requestParams: { path: eventId },
      requestBody: jsonBody(retryBody, false),
      responses: { 200: json('the failed event, now `retried`', failedEventResource) },
      problems: {
        ...closeProblems,
        400: { ...closeProblems[400], validation_failed: `${closeProblems[400].validation_failed}, or an \`inbound_event\`'s data is still invalid` },
        422: {
          unknown_product: '`inbound_event`: processing the message failed again',
          mixed_partners: '`inbound_event`: processing the message failed again',
          mixed_currencies: '`inbound_event`: processing the message failed again',
          amount_too_large: '`inbound_event`: processing the message failed again',
          unknown_event_type: '`inbound_event`: processing the message failed again',
          idempotency_key_reused: '`inbound_event`: the event id was received with other data',
        },
      },
    }),
  },
  '/v1/admin/failed-events/{id}/ignore': {
    post: operation('post', {
      operationId: 'ignoreFailedEvent',
      summary: 'Close the failed event without retrying it',
      tag,
      admin: true,
      actor: true,
      requestParams: { path: eventId },
      requestBody: jsonBody(ignoreBody),
      responses: { 200: json('the failed event, now `ignored`', failedEventResource) },
      problems: closeProblems,
    }),
  },
  '/v1/admin/payments/{id}/resolve': {
    post: operation('post', {
      operationId: 'resolvePayment',
      summary: 'Settle a payment in requires_attention as decided outside Paystate',
      description: '`cancelled`: the money went back outside Paystate; the stock is released. `kept`: the charge stands.',
      tag,
      admin: true,
      actor: true,
      requestParams: { path: pathId },
      requestBody: jsonBody(resolveBody),
      responses: { 200: json('the payment as committed right after the resolution', paymentResource) },
      problems: {
        400: { validation_failed: '`outcome` or `reason` missing or breaking its rule' },
        404: { not_found: 'no such payment' },
        409: { invalid_state: 'the payment is not in `requires_attention`, or `kept` where there is no charge to keep' },
        503: { payment_busy: 'another process holds the payment, or the write was refused' },
      },
    }),
  },
  '/v1/admin/reconcile': {
    post: operation('post', {
      operationId: 'reconcile',
      summary: 'Run one reconciler pass now',
      tag,
      admin: true,
      responses: { 200: json('`{ scanned: 0, resumed: 0 }` also when another process is running a pass', reconcilePass) },
    }),
  },
};
