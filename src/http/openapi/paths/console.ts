import { z } from 'zod';
import type { ZodOpenApiPathsObject } from 'zod-openapi';
import { ASSETS } from '../../../console/page-routes.ts';
import { PUBLIC_STATUSES } from '../../../../machines/payment-status.ts';
import { chaosChanges } from '../../routes/mock-pg-controls.ts';
import { exportQuery } from '../../routes/payment-export.ts';
import { json, jsonBody, operation } from '../operation.ts';
import { tooManyStreams } from './payments.ts';

const instant = z.iso.datetime().nullable();

export const figures = z
  .object({
    actorsInMemory: z.int().min(0).meta({ description: 'payment actors live in this process' }),
    snapshotWriteFailures: z.int().min(0).meta({ description: 'snapshot writes refused since start (lost lease, I/O)' }),
    pg: z.object({
      consecutiveFailures: z.int().min(0).meta({ description: 'PG calls in a row that got no answer' }),
      lastOkAt: instant,
      lastFailureAt: instant,
      queued: z.int().min(0).meta({ description: 'PG calls waiting for a connection' }),
      mock: z.boolean().meta({ description: 'the PG is the local mock: its chaos controls are at /v1/admin/mock-pg/chaos' }),
    }),
    paymentsByStatus: z.object(Object.fromEntries(PUBLIC_STATUSES.map((status) => [status, z.int().min(0)]))).meta({ description: 'every process, from the database' }),
    openFailedEvents: z.int().min(0),
  })
  .meta({ id: 'Figures' });

const chaosSettings = z
  .object({
    failureRate: z.number(),
    delayRate: z.number(),
    delayMs: z.int(),
    ambiguousRate: z.number(),
    cancelRefusalRate: z.number(),
    seed: z.int(),
  })
  .meta({ id: 'MockPgChaos' });
const noMock = { 404: { not_found: 'the PG is not the local mock (PG_MOCK_CONTROLS is not 1)' } };
const mockSilent = { 502: { mock_pg_unreachable: 'the mock PG did not answer' } };

const html = (summary: string, operationId: string) =>
  operation('get', { operationId, summary, tag: 'Pages', responses: { 200: { description: 'the page', content: { 'text/html': { schema: z.string() } } } } });

export const consolePaths: ZodOpenApiPathsObject = {
  '/v1/admin/figures': {
    get: operation('get', {
      operationId: 'getFigures',
      summary: "This process's actors and PG health, and every payment by status",
      tag: 'Admin',
      admin: true,
      responses: { 200: json('the figures', figures) },
    }),
  },
  '/v1/admin/figures/live': {
    get: operation('get', {
      operationId: 'streamFigures',
      summary: 'The figures as Server-Sent Events',
      description: 'An event `figures` (a `Figures` object) at once, then when they change: at most every 250 ms, and every 2 s for the database counts.',
      tag: 'Admin',
      admin: true,
      responses: { 200: { description: 'the stream: `event: figures` / `data: <Figures JSON>`', content: { 'text/event-stream': { schema: z.string() } } } },
      problems: tooManyStreams,
    }),
  },
  '/v1/admin/payments/export': {
    get: operation('get', {
      operationId: 'exportPayments',
      summary: 'Every payment the filters choose, newest first, as CSV',
      tag: 'Admin',
      admin: true,
      requestParams: { query: exportQuery },
      responses: { 200: { description: 'RFC 4180 CSV with a header row; formula-like texts start with `\'`', content: { 'text/csv': { schema: z.string() } } } },
      problems: { 400: { validation_failed: 'a filter breaks its rule' } },
    }),
  },
  '/v1/admin/mock-pg/chaos': {
    get: operation('get', {
      operationId: 'getMockPgChaos',
      summary: "The local mock PG's chaos settings",
      tag: 'Admin',
      admin: true,
      responses: { 200: json('the settings', chaosSettings) },
      problems: { ...noMock, ...mockSilent },
    }),
    post: operation('post', {
      operationId: 'changeMockPgChaos',
      summary: "Change some of the local mock PG's chaos settings",
      tag: 'Admin',
      admin: true,
      requestBody: jsonBody(chaosChanges),
      responses: { 200: json('the settings now', chaosSettings) },
      problems: { 400: { validation_failed: 'a setting out of range, an unknown one, or none' }, ...noMock, ...mockSilent },
    }),
  },
  '/': {
    get: operation('get', {
      operationId: 'getRoot',
      summary: 'Leads to the console',
      tag: 'Pages',
      responses: { 302: { description: 'to /console', headers: z.object({ Location: z.literal('/console') }), content: { 'text/plain': { schema: z.string() } } } },
    }),
  },
  '/console': { get: html('The operator console: payments with filters and CSV export', 'getConsole') },
  '/console/payments/{id}': {
    get: operation('get', {
      operationId: 'getConsolePayment',
      summary: 'One payment: items, cancellations, transition log, live diagram',
      tag: 'Pages',
      requestParams: { path: z.object({ id: z.string() }) },
      responses: { 200: { description: 'the page (it reads the payment from the API)', content: { 'text/html': { schema: z.string() } } } },
    }),
  },
  '/console/attention': { get: html('Payments in requires_attention and open dead letters', 'getConsoleAttention') },
  '/console/figures': { get: html('Live figures', 'getConsoleFigures') },
  '/console/settlements': { get: html("A business date's settlements, run and read (`?date=`)", 'getConsoleSettlements') },
  '/console/events': { get: html('The payment events feed and the merchant webhook endpoints', 'getConsoleEvents') },
  '/payment': { get: html('The checkout page', 'getCheckout') },
  '/payment/mypage': { get: html("A customer's payments, with cancel buttons (`?customerId=`)", 'getMyPage') },
  '/assets/{name}': {
    get: operation('get', {
      operationId: 'getPageAsset',
      summary: "A script or style of the pages, or Mermaid from node_modules (only these names; any other is a 404)",
      tag: 'Pages',
      requestParams: { path: z.object({ name: z.enum([...ASSETS.keys()] as [string, ...string[]]) }) },
      responses: { 200: { description: 'the file', content: { 'text/javascript': { schema: z.string() }, 'text/css': { schema: z.string() } } } },
      problems: { 404: { not_found: 'not one of the pages\' files' } },
    }),
  },
};
