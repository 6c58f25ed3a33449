import type { RouterMiddleware } from '@koa/router';
import { z } from 'zod';
import { maskSecret } from '../../logger.ts';
import type { MockPgDeps } from '../app.ts';
import { forcedPlan, MISSING_BILLING_KEY } from '../chaos.ts';
import { answerFailure } from '../failure-answer.ts';
import { PgApiError } from '../pg-api-error.ts';
import type { ChargeRequest, PaymentFailure } from '../payment-store.ts';
import { assertOwnStore, parseWith, paymentIdOf } from '../request-input.ts';

// Unknown fields of PortOne's request (channelKey, products, …) are accepted and ignored.
const chargeBody = z.object({
  storeId: z.string().optional(),
  billingKey: z.string().min(1),
  orderName: z.string().min(1),
  amount: z.object({ total: z.number().int().positive() }),
  currency: z.string().regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code'),
  customer: z.object({ id: z.string().optional() }).optional(),
});

const DECLINED: PaymentFailure = {
  reason: 'card declined',
  pgCode: 'CARD_DECLINED',
  pgMessage: 'The card issuer declined the transaction',
};

/** A charge that was reported pending and then broke must still end in a final status. */
const TIMED_OUT: PaymentFailure = {
  reason: 'PG timed out',
  pgCode: 'PG_TIMEOUT',
  pgMessage: 'The card network did not answer in time; nothing was charged',
};

/** `POST /payments/:paymentId/billing-key`: charge a stored card. */
export function chargeWithBillingKey(deps: MockPgDeps): RouterMiddleware {
  const { store, chaos, delays, announce, logger } = deps;
  return async (ctx) => {
    const paymentId = paymentIdOf(ctx);
    const body = parseWith(chargeBody, ctx.request.body);
    assertOwnStore(body.storeId, deps.storeId);
    const forced = forcedPlan(ctx.get('x-chaos'));
    store.assertChargeable(paymentId);
    if (!forced && body.billingKey === MISSING_BILLING_KEY) {
      throw new PgApiError(404, 'BILLING_KEY_NOT_FOUND', 'billing key was not found');
    }
    const request: ChargeRequest = {
      billingKey: body.billingKey,
      orderName: body.orderName,
      total: body.amount.total,
      currency: body.currency,
      customerId: body.customer?.id,
    };
    const plan = chaos.planCharge(forced, body.billingKey);
    logger.info({ paymentId, billingKey: maskSecret(body.billingKey), ...plan }, 'charge requested');

    if (plan.delayed) {
      // Recorded before the wait, so a client that gave up can see the charge is in flight.
      announce(store.markPending(paymentId, request));
      const waited = await delays.wait(chaos.settings().delayMs);
      if (!waited) {
        ctx.respond = false; // the server is closing; its sockets are gone
        return;
      }
    }

    switch (plan.outcome) {
      case 'ok': {
        const paid = store.markPaid(paymentId, request);
        announce(paid);
        ctx.body = { payment: { pgTxId: paid.pgTxId, paidAt: paid.paidAt } };
        return;
      }
      case 'ambiguous':
        announce(store.markPaid(paymentId, request));
        answerFailure(ctx, chaos.failureStyle());
        return;
      case 'decline':
        announce(store.markFailed(paymentId, request, DECLINED));
        throw new PgApiError(400, 'PG_PROVIDER', 'the card was declined', {
          pgCode: DECLINED.pgCode,
          pgMessage: DECLINED.pgMessage,
        });
      case 'error':
        if (plan.delayed) announce(store.markFailed(paymentId, request, TIMED_OUT));
        answerFailure(ctx, chaos.failureStyle());
        return;
    }
  };
}
