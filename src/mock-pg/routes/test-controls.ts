import type { Router } from '@koa/router';
import type { MockPgDeps } from '../app.ts';
import { chaosSettingsSchema } from '../chaos.ts';
import { ledgerEditSchema } from '../ledger-edit.ts';
import { toPaymentView } from '../payment-view.ts';
import { parseWith, paymentIdOf } from '../request-input.ts';

/** Routes for tests and chaos runs: the PG's books and its failure knobs. */
export function testControls(router: Router, { store, storeId, chaos, logger }: MockPgDeps): void {
  router.get('/__ledger', (ctx) => {
    ctx.body = { payments: store.ledger() };
  });
  // Edits announce nothing: they make the PG's books disagree with the service on purpose.
  router.put('/__ledger/:paymentId', (ctx) => {
    const paymentId = paymentIdOf(ctx);
    const edit = parseWith(ledgerEditSchema, ctx.request.body);
    ctx.body = toPaymentView(store.editLedger(paymentId, edit), storeId);
    logger.info({ paymentId, edit }, 'ledger edited');
  });
  router.delete('/__ledger/:paymentId', (ctx) => {
    const paymentId = paymentIdOf(ctx);
    store.remove(paymentId);
    logger.info({ paymentId }, 'payment removed from the ledger');
    ctx.status = 204;
  });
  router.get('/__chaos', (ctx) => {
    ctx.body = chaos.settings();
  });
  router.post('/__chaos', (ctx) => {
    chaos.update(parseWith(chaosSettingsSchema, ctx.request.body));
    logger.info({ chaos: chaos.settings() }, 'chaos settings changed');
    ctx.body = chaos.settings();
  });
}
