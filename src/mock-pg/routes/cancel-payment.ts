import type { RouterMiddleware } from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import type { MockPgDeps } from '../app.ts';
import { forcedPlan, type Plan } from '../chaos.ts';
import { answerFailure } from '../failure-answer.ts';
import { PgApiError } from '../pg-api-error.ts';
import type { Cancellation } from '../payment-store.ts';
import { toCancellationView } from '../payment-view.ts';
import { assertOwnStore, parseWith, paymentIdOf } from '../request-input.ts';

const cancelBody = z.object({
  storeId: z.string().optional(),
  amount: z.number().int().positive().optional(),
  reason: z.string().min(1),
  currentCancellableAmount: z.number().int().nonnegative().optional(),
  skipWebhook: z.boolean().optional(),
});

type CancelBody = z.infer<typeof cancelBody>;

/**
 * `POST /payments/:paymentId/cancel`. Requests with the same `Idempotency-Key` run one
 * after another; once one of them cancelled, the rest answer with that cancellation.
 */
export function cancelPayment(deps: MockPgDeps): RouterMiddleware {
  const byIdempotencyKey = new Map<string, Promise<Cancellation | undefined>>();

  return async (ctx) => {
    const paymentId = paymentIdOf(ctx);
    const body = parseWith(cancelBody, ctx.request.body);
    assertOwnStore(body.storeId, deps.storeId);
    const forced = forcedPlan(ctx.get('x-chaos'));
    const requestedAt = new Date().toISOString();
    const attempt = () => attemptCancel(deps, ctx, paymentId, body, forced, requestedAt);

    const key = ctx.get('idempotency-key');
    if (key === '') {
      await attempt();
      return;
    }
    const scope = `${paymentId}\n${key}`;
    const previous = byIdempotencyKey.get(scope) ?? Promise.resolve(undefined);
    const mine = previous.then((done) => {
      if (!done) return attempt();
      ctx.body = { cancellation: toCancellationView(done) };
      return done;
    });
    byIdempotencyKey.set(scope, mine.catch(() => undefined));
    await mine;
  };
}

/** Answers the request; resolves to the cancellation if money went back. */
async function attemptCancel(
  { store, chaos, delays, announce, logger }: MockPgDeps,
  ctx: Context,
  paymentId: string,
  body: CancelBody,
  forced: Plan | undefined,
  requestedAt: string,
): Promise<Cancellation | undefined> {
  const plan = chaos.planCancel(forced, store.requirePayment(paymentId).billingKey);
  logger.info({ paymentId, amount: body.amount, ...plan }, 'cancel requested');
  if (plan.delayed && !(await delays.wait(chaos.settings().delayMs))) {
    ctx.respond = false; // the server is closing; its sockets are gone
    return undefined;
  }
  if (plan.outcome === 'error') {
    answerFailure(ctx, chaos.failureStyle());
    return undefined;
  }
  if (plan.outcome === 'decline') {
    throw new PgApiError(400, 'PG_PROVIDER', 'the PG refused the cancellation', {
      pgCode: 'CANCEL_REFUSED',
      pgMessage: 'The card issuer refused the refund',
    });
  }
  const { record, cancellation } = store.cancel(paymentId, body, requestedAt);
  if (!body.skipWebhook) announce(record);
  if (plan.outcome === 'ambiguous') answerFailure(ctx, chaos.failureStyle());
  else ctx.body = { cancellation: toCancellationView(cancellation) };
  return cancellation;
}
