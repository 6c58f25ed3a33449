import type { Router } from '@koa/router';
import type { MockPgDeps } from '../app.ts';
import { chaosSettingsSchema } from '../chaos.ts';
import { parseWith } from '../request-input.ts';

/** Routes for tests and chaos runs: the PG's books and its failure knobs. */
export function testControls(router: Router, { store, chaos, logger }: MockPgDeps): void {
  router.get('/__ledger', (ctx) => {
    ctx.body = { payments: store.ledger() };
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
