import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type Router from '@koa/router';
import { sendPage } from '../http/page-headers.ts';
import { exactRouter } from '../http/router.ts';
import { PAGES } from './pages.ts';

const require = createRequire(import.meta.url);

/** Every script and style the pages load: from this folder or node_modules, never a CDN. */
export const ASSETS: Record<string, { path: string; type: string }> = {
  'style.css': { path: fileURLToPath(new URL('./assets/style.css', import.meta.url)), type: 'text/css; charset=utf-8' },
  'mermaid.min.js': { path: require.resolve('mermaid/dist/mermaid.min.js'), type: 'text/javascript; charset=utf-8' },
  ...Object.fromEntries(
    ['common.js', 'live-diagram.js', 'console-payments.js', 'console-payment.js', 'console-attention.js', 'console-figures.js', 'console-settlements.js', 'console-events.js', 'checkout.js', 'mypage.js'].map(
      (name) => [name, { path: fileURLToPath(new URL(`./assets/${name}`, import.meta.url)), type: 'text/javascript; charset=utf-8' }],
    ),
  ),
};

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

  // Read once and sent with an ETag: Mermaid alone is 3.5 MB, and a revalidation costs a 304.
  const cache = new Map<string, { body: Buffer; etag: string }>();
  router.get('/assets/:name', (ctx, next) => {
    const name = ctx.params.name!;
    const asset = Object.hasOwn(ASSETS, name) ? ASSETS[name] : undefined;
    if (!asset) return next();
    let file = cache.get(name);
    if (!file) {
      const body = readFileSync(asset.path);
      file = { body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` };
      cache.set(name, file);
    }
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.set('Cache-Control', 'no-cache');
    ctx.set('ETag', file.etag);
    ctx.type = asset.type;
    ctx.body = file.body;
    // Koa weighs If-None-Match only against a 2xx answer: the body first, then the check.
    if (ctx.fresh) ctx.status = 304;
  });
  return router;
}
