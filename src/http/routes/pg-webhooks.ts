import type Router from '@koa/router';
import { exactRouter } from '../router.ts';
import type { Context } from 'koa';
import { Webhook } from 'standardwebhooks';
import { z } from 'zod';
import type { Database } from '../../../db/connection.ts';
import { findPayment } from '../../../db/payments-repo.ts';
import { claimReceipt, finishReceipt, releaseReceipt } from '../../../db/webhook-receipts-repo.ts';
import { AppError, paymentBusy } from '../../errors.ts';
import type { Logger } from '../../logger.ts';
import type { PaymentHost } from '../../payments/payment-host.ts';
import type { PgClient } from '../../pg/pg-client.ts';

export interface WebhookRoutesDeps {
  db: Database;
  host: PaymentHost;
  pg: PgClient;
  /** whsec_…; the same secret the PG signs with. */
  secret: string;
  /**
   * How long a claimed webhook id is held while its copy is handled: longer than the PG
   * lookup can take, so that a claim expires only when its process died.
   */
  claimMs: number;
  clock: () => number;
  logger: Logger;
}

const LIMIT = 64 * 1024;
/** Standard Webhooks timestamps are whole seconds; a parser that stops at junk must not be reached. */
const TIMESTAMP = /^\d{1,12}$/;

export const webhookBody = z.object({
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
export function pgWebhookRoutes({ db, host, pg, secret, claimMs, clock, logger }: WebhookRoutesDeps): Router {
  const router = exactRouter();
  const verifier = new Webhook(secret);

  router.post('/v1/pg/webhooks', async (ctx) => {
    // Signatures cover the bytes as sent; a compressed body would have to be decoded first.
    const encoding = ctx.get('content-encoding').trim().toLowerCase();
    if (encoding !== '' && encoding !== 'identity') {
      throw new AppError(415, 'unsupported_encoding', 'Webhooks are taken without Content-Encoding');
    }
    const raw = await readRawBody(ctx);
    const headers = {
      'webhook-id': ctx.get('webhook-id'),
      'webhook-timestamp': ctx.get('webhook-timestamp'),
      'webhook-signature': ctx.get('webhook-signature'),
    };
    try {
      if (!TIMESTAMP.test(headers['webhook-timestamp'])) throw new Error('malformed timestamp');
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
    const { type, data } = parsed.data;
    const paymentId = data?.paymentId;
    // Claimed before anything is done: of many copies sent at once, exactly one proceeds.
    const claim = { id: webhookId, type, paymentId: paymentId ?? null, now: clock(), claimMs };
    const claimed = await db.commit.run((tx) => claimReceipt(tx, claim));
    if (claimed === 'done') {
      ctx.body = { status: 'duplicate' };
      return;
    }
    if (claimed === 'in_progress') {
      // Not a 2xx: the copy being handled may still fail, and then this one must come back.
      ctx.set('Retry-After', String(Math.ceil(claimMs / 1000)));
      throw new AppError(409, 'webhook_in_progress', 'Another copy of this webhook is being handled; send it again later');
    }
    const log = logger.child({ webhookId, type, paymentId });
    try {
      if (type.startsWith('Transaction.') && paymentId && (await findPayment(db.read, paymentId))) {
        await handOver(paymentId, log);
      } else {
        log.info('webhook about nothing of ours; ignored');
      }
    } catch (error) {
      // Not acted on: the PG sends it again, and that copy may claim the id.
      await db.commit.run((tx) => releaseReceipt(tx, webhookId));
      throw error;
    }
    await db.commit.run((tx) => finishReceipt(tx, webhookId));
    ctx.body = { status: 'ok' };
  });

  /** Asks the PG for the payment's record and gives it to the payment's actor, committed before the answer. */
  async function handOver(paymentId: string, log: Logger): Promise<void> {
    const record = await pg.getPayment(paymentId);
    if (record.kind === 'unknown') {
      throw new AppError(503, 'pg_unavailable', 'The PG did not answer about this payment; send the webhook again later');
    }
    const outcome = await host.deliver(paymentId, { type: 'pg.status', record });
    if (outcome === 'unavailable' || outcome === 'not_committed') throw paymentBusy();
    const pgStatus = record.kind === 'found' ? record.status : record.kind;
    // Most webhooks change nothing: the payment already knows (it asked the PG itself).
    log.info({ pgStatus, acted: outcome === 'accepted' }, 'webhook handled');
  }

  return router;
}
