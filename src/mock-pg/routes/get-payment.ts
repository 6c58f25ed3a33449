import type { RouterMiddleware } from '@koa/router';
import type { MockPgDeps } from '../app.ts';
import { toPaymentView } from '../payment-view.ts';
import { assertOwnStore, paymentIdOf } from '../request-input.ts';

export function getPayment({ store, storeId }: MockPgDeps): RouterMiddleware {
  return (ctx) => {
    assertOwnStore(ctx.query.storeId, storeId);
    ctx.body = toPaymentView(store.requirePayment(paymentIdOf(ctx)), storeId);
  };
}
