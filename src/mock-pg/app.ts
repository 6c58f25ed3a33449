import Koa from 'koa';
import { Router } from '@koa/router';
import type { Logger } from 'pino';
import type { Chaos } from './chaos.ts';
import type { Delays } from './delays.ts';
import { handleErrors, parseJsonBody, requireSecret } from './middleware.ts';
import type { PaymentRecord, PaymentStore } from './payment-store.ts';
import { cancelPayment } from './routes/cancel-payment.ts';
import { chargeWithBillingKey } from './routes/charge-with-billing-key.ts';
import { getPayment } from './routes/get-payment.ts';
import { listPayments, listPaymentsByCursor } from './routes/list-payments.ts';
import { testControls } from './routes/test-controls.ts';

export interface MockPgDeps {
  secret: string;
  storeId: string;
  store: PaymentStore;
  chaos: Chaos;
  delays: Delays;
  /** Sends the webhook for the record's new status (if a webhook URL is set). */
  announce(record: PaymentRecord): void;
  logger: Logger;
}

export function createMockPgApp(deps: MockPgDeps): Koa {
  const router = new Router();
  // Neither list path has a second segment, so neither can be taken for a :paymentId.
  router.get('/payments-by-cursor', listPaymentsByCursor(deps));
  router.get('/payments', listPayments(deps));
  router.get('/payments/:paymentId', getPayment(deps));
  router.post('/payments/:paymentId/billing-key', chargeWithBillingKey(deps));
  router.post('/payments/:paymentId/cancel', cancelPayment(deps));
  testControls(router, deps);

  const app = new Koa();
  app.on('error', (err: unknown) => deps.logger.error({ err }, 'koa error'));
  app.use(handleErrors(deps.logger));
  app.use(requireSecret(deps.secret));
  app.use(parseJsonBody());
  app.use(router.routes());
  return app;
}
