import { z } from 'zod';
import type { ZodOpenApiPathsObject } from 'zod-openapi';
import { DOCS_ASSETS } from '../docs-page.ts';
import { operation } from '../operation.ts';

const tag = 'API description';

export const docsPaths: ZodOpenApiPathsObject = {
  '/openapi.json': {
    get: operation('get', {
      operationId: 'getOpenApiDocument',
      summary: 'This document (OpenAPI 3.1)',
      tag,
      responses: { 200: { description: 'the document', content: { 'application/json': { schema: z.record(z.string(), z.unknown()) } } } },
    }),
  },
  '/docs': {
    get: operation('get', {
      operationId: 'getApiReferencePage',
      summary: 'The API reference page (Swagger UI, served without internet access)',
      tag,
      responses: { 200: { description: 'the page', content: { 'text/html': { schema: z.string() } } } },
    }),
  },
  '/docs/init.js': {
    get: operation('get', {
      operationId: 'getApiReferenceScript',
      summary: "The page's script: starts Swagger UI on /openapi.json",
      tag,
      responses: { 200: { description: 'the script', content: { 'text/javascript': { schema: z.string() } } } },
    }),
  },
  '/docs/assets/{file}': {
    get: operation('get', {
      operationId: 'getApiReferenceAsset',
      summary: "A file of Swagger UI that the page loads (only these names; any other is a 404)",
      tag,
      requestParams: { path: z.object({ file: z.enum([...DOCS_ASSETS.keys()] as [string, ...string[]]) }) },
      responses: {
        200: {
          description: 'the file',
          content: Object.fromEntries([...new Set([...DOCS_ASSETS.values()].map((file) => file.type))].map((type) => [type.split(';')[0]!, { schema: z.string() }])),
        },
      },
      problems: { 404: { not_found: 'not one of the files the page loads' } },
    }),
  },
};
