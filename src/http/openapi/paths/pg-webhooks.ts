import { z } from 'zod';
import type { ZodOpenApiPathsObject } from 'zod-openapi';
import { webhookBody } from '../../routes/pg-webhooks.ts';
import { json, operation } from '../operation.ts';

const signatureHeaders = z.object({
  'webhook-id': z.string().meta({ description: 'the message id; a repeated id is answered 200 and does nothing twice' }),
  'webhook-timestamp': z.string().meta({ description: 'whole seconds since the epoch, within 5 minutes of now' }),
  'webhook-signature': z.string().meta({ description: '`v1,<base64 HMAC-SHA256>` of `<id>.<timestamp>.<raw body>` under PG_WEBHOOK_SECRET' }),
});

export const pgWebhookPaths: ZodOpenApiPathsObject = {
  '/v1/pg/webhooks': {
    post: operation('post', {
      operationId: 'receivePgWebhook',
      summary: 'A PortOne V2 webhook, signed the Standard Webhooks way',
      description:
        "The body is never trusted: for a `Transaction.*` webhook about one of Paystate's payments the service asks the PG " +
        'for the payment and acts on its answer. A missing or bad signature header is a 401, not a 400.',
      tag: 'PG webhooks',
      rawBody: true,
      requestParams: { header: signatureHeaders },
      requestBody: { required: true, content: { 'application/json': { schema: webhookBody } } },
      responses: {
        200: json(
          '`ok`: handled and committed; `duplicate`: this webhook-id was handled already',
          z.object({ status: z.enum(['ok', 'duplicate']) }),
        ),
      },
      problems: {
        400: { invalid_body: 'the body is not JSON, or not a PortOne webhook body' },
        401: { invalid_signature: 'a signature header is missing, the signature does not match, or the timestamp is bad or more than 5 minutes off' },
        409: { webhook_in_progress: 'another copy of this webhook-id is being handled; send it again after `Retry-After`' },
        413: { payload_too_large: 'the body is over 64 KiB' },
        415: { unsupported_encoding: 'any Content-Encoding but identity: the signature covers the bytes as sent' },
        503: {
          pg_unavailable: 'the PG did not answer the lookup; the id is released (`Retry-After: 1`)',
          payment_busy: 'another process holds the payment, or the write was refused (`Retry-After: 1`)',
        },
      },
    }),
  },
};
