import { createRequire } from 'node:module';
import { createDocument, type oas31 } from 'zod-openapi';
import { ADMIN_SECURITY } from './operation.ts';
import { adminPaths } from './paths/admin.ts';
import { consolePaths } from './paths/console.ts';
import { docsPaths } from './paths/docs.ts';
import { healthPaths } from './paths/health.ts';
import { inboxPaths } from './paths/inbox.ts';
import { machinePaths } from './paths/machines.ts';
import { paymentEventPaths } from './paths/payment-events.ts';
import { paymentPaths, paymentStreamSchemas } from './paths/payments.ts';
import { pgWebhookPaths } from './paths/pg-webhooks.ts';
import { productPaths } from './paths/products.ts';
import { settlementPaths } from './paths/settlements.ts';

const { version } = createRequire(import.meta.url)('../../../package.json') as { version: string };

const DESCRIPTION = `Payment orchestration: durable payments behind a REST API. The prose reference, with examples,
is docs/api.md in the repository.

- Amounts are integers in minor units; times are ISO-8601 UTC strings; ids are strings.
- Every error is an RFC 9457 problem document (\`application/problem+json\`) whose \`code\` is the stable identifier to program against.
- Every response carries \`X-Request-Id\`, echoed from the request when it is 1–128 characters of \`A–Z a–z 0–9 _ . : -\`.
- Paths match exactly (case and trailing slash); an unknown path is a 404 \`not_found\`, a known one with another method a 405 \`method_not_allowed\`.`;

/** The OpenAPI 3.1 document of every route, from the zod schemas the routes validate with. */
export function buildOpenApiDocument(): oas31.OpenAPIObject {
  return createDocument({
    openapi: '3.1.1',
    info: { title: 'Paystate', version, description: DESCRIPTION },
    paths: {
      ...healthPaths,
      ...productPaths,
      ...paymentPaths,
      ...pgWebhookPaths,
      ...paymentEventPaths,
      ...inboxPaths,
      ...adminPaths,
      ...settlementPaths,
      ...machinePaths,
      ...docsPaths,
      ...consolePaths,
    },
    components: {
      securitySchemes: {
        [ADMIN_SECURITY]: { type: 'http', scheme: 'bearer', description: 'ADMIN_TOKEN: everything under /v1/admin/, POST /v1/products and POST /v1/inbox/events' },
      },
      schemas: paymentStreamSchemas,
    },
  });
}

let serialized: string | undefined;

/** The document as JSON text, built on first use and kept: it changes only with the code. */
export function openApiJson(): string {
  serialized ??= JSON.stringify(buildOpenApiDocument());
  return serialized;
}
