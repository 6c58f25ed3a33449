import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type Router from '@koa/router';
import { sendPage } from '../http/page-headers.ts';
import { exactRouter } from '../http/router.ts';
import { staticFiles, type StaticFile } from '../http/static-files.ts';
import { PAGES } from './pages.ts';

const require = createRequire(import.meta.url);

/** Every script and style the pages load: from this folder or node_modules, never a CDN. */
export const ASSETS: ReadonlyMap<string, StaticFile> = new Map([
  ['style.css', { path: fileURLToPath(new URL('./assets/style.css', import.meta.url)), type: 'text/css; charset=utf-8' }],
  ['mermaid.min.js', { path: require.resolve('mermaid/dist/mermaid.min.js'), type: 'text/javascript; charset=utf-8' }],
  ...['common.js', 'live-diagram.js', 'console-payments.js', 'console-payment.js', 'console-attention.js', 'console-figures.js', 'console-settlements.js', 'console-events.js', 'checkout.js', 'mypage.js'].map(
    (name): [string, StaticFile] => [name, { path: fileURLToPath(new URL(`./assets/${name}`, import.meta.url)), type: 'text/javascript; charset=utf-8' }],
  ),
]);

/** The operator console (`/console`), the checkout page (`/payment`) and a customer's history (`/payment/mypage`). */
export function pageRoutes(): Router {
  const router = exactRouter();
  const page = (path: string, html: string) => router.get(path, (ctx) => sendPage(ctx, html));

  router.get('/', (ctx) => {
    ctx.redirect('/console');
    // The same short body whatever the client accepts (Koa's would be HTML for browsers).
    ctx.type = 'text/plain; charset=utf-8';
    ctx.body = 'Redirecting to /console.';
  });
  page('/console', PAGES.consolePayments);
  page('/console/payments/:id', PAGES.consolePayment);
  page('/console/attention', PAGES.consoleAttention);
  page('/console/figures', PAGES.consoleFigures);
  page('/console/settlements', PAGES.consoleSettlements);
  page('/console/events', PAGES.consoleEvents);
  page('/payment', PAGES.checkout);
  page('/payment/mypage', PAGES.myPage);

  // Revalidated on every load (no-cache): the scripts change with the code, and Mermaid's 3.5 MB come back as a 304.
  const asset = staticFiles(ASSETS, 'no-cache');
  router.get('/assets/:name', (ctx, next) => (asset(ctx, ctx.params.name!) ? undefined : next()));
  return router;
}
