import type Router from '@koa/router';
import { notFound } from '../../errors.ts';
import { DOCS_ASSETS, DOCS_HTML, DOCS_INIT_SCRIPT } from '../openapi/docs-page.ts';
import { openApiJson } from '../openapi/document.ts';
import { sendPage } from '../page-headers.ts';
import { exactRouter } from '../router.ts';
import { staticFiles } from '../static-files.ts';

/** The OpenAPI document and the API reference page that reads it; nothing here needs the internet. */
export function docsRoutes(): Router {
  const router = exactRouter();

  router.get('/openapi.json', (ctx) => {
    ctx.type = 'application/json';
    ctx.body = openApiJson();
  });

  router.get('/docs', (ctx) => {
    sendPage(ctx, DOCS_HTML);
  });

  router.get('/docs/init.js', (ctx) => {
    ctx.type = 'text/javascript; charset=utf-8';
    ctx.body = DOCS_INIT_SCRIPT;
  });

  // Swagger UI changes only with its package: kept a day.
  const asset = staticFiles(DOCS_ASSETS, 'public, max-age=86400');
  router.get('/docs/assets/:file', (ctx) => {
    if (!asset(ctx, ctx.params.file!)) throw notFound(`Asset ${ctx.params.file}`);
  });

  return router;
}
