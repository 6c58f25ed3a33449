import { createReadStream } from 'node:fs';
import type Router from '@koa/router';
import { notFound } from '../../errors.ts';
import { DOCS_ASSETS, DOCS_HTML, DOCS_INIT_SCRIPT, docsAssetPath } from '../openapi/docs-page.ts';
import { openApiJson } from '../openapi/document.ts';
import { sendPage } from '../page-headers.ts';
import { exactRouter } from '../router.ts';

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

  // Only names on the list are served: a path of any other shape (`..%2F…`) names no file here.
  router.get('/docs/assets/:file', (ctx) => {
    const type = DOCS_ASSETS.get(ctx.params.file!);
    if (!type) throw notFound(`Asset ${ctx.params.file}`);
    ctx.type = type;
    ctx.set('Cache-Control', 'public, max-age=86400');
    ctx.body = createReadStream(docsAssetPath(ctx.params.file!));
  });

  return router;
}
