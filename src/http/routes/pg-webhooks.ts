import Router from '@koa/router';
import type { Context } from 'koa';
import { Webhook } from 'standardwebhooks';
import { z } from 'zod';
import type { Db } from '../../../db/connection.ts';
import type { GroupCommit } from '../../../db/group-commit.ts';
import { findPayment } from '../../../db/payments-repo.ts';
import { hasReceipt, recordReceipt } from '../../../db/webhook-receipts-repo.ts';
import { AppError } from '../../errors.ts';
import type { Logger } from '../../logger.ts';
import type { PaymentHost } from '../../payments/payment-host.ts';
import { toInquiryOutput } from '../../payments/pg-status.ts';
import type { PgClient } from '../../pg/pg-client.ts';

export interface WebhookRoutesDeps {
  db: Db;
  commit: GroupCommit;
  host: PaymentHost;
  pg: PgClient;
  /** whsec_…; the same secret the PG signs with. */
  secret: string;
  clock: () => number;
  logger: Logger;
}

const LIMIT = 64 * 1024;

const webhookBody = z.object({
  type: z.string().min(1),
  timestamp: z.string().optional(),
  data: z.object({ paymentId: z.string().min(1).optional() }).loose().optional(),
});

/** Signatures are over the exact bytes received, so the body is read raw, not parsed first. */
async function readRawBody(ctx: Context): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req) {
    size += (chunk as Buffer).length;
    if (size > LIMIT) throw new AppError(413, 'payload_too_large', 'The body exceeds 64 KiB');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * PortOne webhooks (Standard Webhooks signatures). The body's claims are never trusted:
 * the service asks the PG for the payment and hands the answer to the payment's actor,
 * which only moves forward from states where that answer means something.
 */
export function pgWebhookRoutes({ db, commit, host, pg, secret, clock, logger }: WebhookRoutesDeps): Router {
  const router = new Router();
  const verifier = new Webhook(secret);

  router.post('/v1/pg/webhooks', async (ctx) => {
    const raw = await readRawBody(ctx);
    const headers = {
      'webhook-id': ctx.get('webhook-id'),
      'webhook-timestamp': ctx.get('webhook-timestamp'),
      'webhook-signature': ctx.get('webhook-signature'),
    };
    try {
      verifier.verify(raw, headers, { jsonParse: false });
    } catch {
      throw new AppError(401, 'invalid_signature', 'The webhook signature or timestamp is not valid');
    }
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch {
      throw new AppError(400, 'invalid_body', 'The webhook body is not JSON');
    }
    const parsed = webhookBody.safeParse(json);
    if (!parsed.success) throw new AppError(400, 'invalid_body', 'The webhook body is not a PortOne webhook');

    const webhookId = headers['webhook-id'];
    ctx.status = 200;
    if (hasReceipt(db, webhookId)) {
      ctx.body = { status: 'duplicate' };
      return;
    }
    const { type, data } = parsed.data;
    const paymentId = data?.paymentId;
    const log = logger.child({ webhookId, type, paymentId });
    if (type.startsWith('Transaction.') && paymentId && findPayment(db, paymentId)) {
      const result = toInquiryOutput(await pg.getPayment(paymentId));
      const outcome = host.offer(paymentId, { type: 'pg.status', result });
      log.info({ pgSays: result.kind, outcome }, 'webhook handled');
    } else {
      log.info('webhook ignored');
    }
    await commit.run(() => recordReceipt(db, { id: webhookId, type, paymentId: paymentId ?? null, receivedAt: clock() }));
    ctx.body = { status: 'ok' };
  });

  return router;
}
