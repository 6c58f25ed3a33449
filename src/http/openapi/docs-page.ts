import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { StaticFile } from '../static-files.ts';

/** The API reference page: Swagger UI from swagger-ui-dist in node_modules, so it needs no internet. */

const swaggerUiDir = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));

/** The only files of swagger-ui-dist the page loads, with their types: nothing else of node_modules is reachable. */
export const DOCS_ASSETS: ReadonlyMap<string, StaticFile> = new Map(
  (
    [
      ['swagger-ui.css', 'text/css; charset=utf-8'],
      ['swagger-ui-bundle.js', 'text/javascript; charset=utf-8'],
      ['favicon-32x32.png', 'image/png'],
      ['favicon-16x16.png', 'image/png'],
    ] as const
  ).map(([name, type]) => [name, { path: join(swaggerUiDir, name), type }]),
);

export const DOCS_HTML = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <title>Paystate API reference</title>
    <link rel="stylesheet" href="/docs/assets/swagger-ui.css">
    <link rel="icon" type="image/png" href="/docs/assets/favicon-32x32.png" sizes="32x32">
    <link rel="icon" type="image/png" href="/docs/assets/favicon-16x16.png" sizes="16x16">
  </head>
  <body>
    <div id="swagger-ui"></div>
    <script src="/docs/assets/swagger-ui-bundle.js"></script>
    <script src="/docs/init.js"></script>
  </body>
</html>
`;

/**
 * Starts Swagger UI on our document. A file of its own rather than an inline script, so the
 * page's Content-Security-Policy can forbid inline scripts. `validatorUrl: null`: Swagger UI
 * would otherwise send the document to validator.swagger.io for its badge.
 */
export const DOCS_INIT_SCRIPT = `window.ui = SwaggerUIBundle({
  url: '/openapi.json',
  dom_id: '#swagger-ui',
  deepLinking: true,
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis],
  layout: 'BaseLayout',
});
`;
