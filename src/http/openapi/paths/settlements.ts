import { z } from 'zod';
import type { ZodOpenApiPathsObject } from 'zod-openapi';
import {
  listQuery as settlementListQuery,
  partnerBody,
  partnerChanges,
  partnerPath,
  runBody,
  settlementPath,
} from '../../routes/settlements.ts';
import { json, jsonBody, locationHeader, operation } from '../operation.ts';
import { partnerResource, settlementResource, settlementWithLines } from '../settlement-resources.ts';

const noSuchPartner = { 404: { not_found: 'no partner with this id' } };
const settlementProblems = {
  400: { validation_failed: '`id` is not a settlement id' },
  404: { not_found: 'no such settlement' },
};

export const settlementPaths: ZodOpenApiPathsObject = {
  '/v1/admin/partners': {
    post: operation('post', {
      operationId: 'createPartner',
      summary: 'Register a partner and its fee',
      tag: 'Partners',
      admin: true,
      requestBody: jsonBody(partnerBody),
      responses: { 201: json('the partner', partnerResource, locationHeader('`/v1/admin/partners/<id>`, the id percent-encoded')) },
      problems: { 400: { validation_failed: 'a field breaks its rule, or the body has another field' }, 409: { conflict: 'a partner with this id exists' } },
    }),
  },
  '/v1/admin/partners/{id}': {
    get: operation('get', {
      operationId: 'getPartner',
      summary: 'Read a partner',
      tag: 'Partners',
      admin: true,
      requestParams: { path: partnerPath },
      responses: { 200: json('the partner', partnerResource) },
      problems: { 400: { validation_failed: '`id` is not 1–255 characters' }, ...noSuchPartner },
    }),
    patch: operation('patch', {
      operationId: 'updatePartner',
      summary: "Change a partner's name or fee (from the next run of a date on)",
      tag: 'Partners',
      admin: true,
      requestParams: { path: partnerPath },
      requestBody: jsonBody(partnerChanges),
      responses: { 200: json('the partner as changed', partnerResource) },
      problems: { 400: { validation_failed: 'a field breaks its rule, neither is given, or the body has another field' }, ...noSuchPartner },
    }),
  },
  '/v1/admin/settlements/run': {
    post: operation('post', {
      operationId: 'runSettlement',
      summary: 'Settle a business date now',
      description: 'Answers once the run completed or failed, or after SETTLEMENT_RUN_WAIT_MS (then some may still be `processing`).',
      tag: 'Settlements',
      admin: true,
      requestBody: jsonBody(runBody),
      responses: { 202: json("the date's settlements, one per partner", z.object({ data: z.array(settlementResource) })) },
      problems: {
        400: { validation_failed: '`date` is not a calendar date `YYYY-MM-DD` from 2000-01-01 on, or the body has another field' },
        422: { date_in_future: 'the date has not begun in the settlement time zone' },
      },
    }),
  },
  '/v1/admin/settlements': {
    get: operation('get', {
      operationId: 'listSettlements',
      summary: 'Settlements, newest date first, then by partner id',
      tag: 'Settlements',
      admin: true,
      requestParams: { query: settlementListQuery },
      responses: {
        200: json('a page of settlements', z.object({ data: z.array(settlementResource), nextCursor: z.string().nullable() })),
      },
      problems: { 400: { validation_failed: 'a query value breaks its rule' } },
    }),
  },
  '/v1/admin/settlements/{id}': {
    get: operation('get', {
      operationId: 'getSettlement',
      summary: 'Read a settlement with its lines',
      tag: 'Settlements',
      admin: true,
      requestParams: { path: settlementPath },
      responses: { 200: json('the settlement with `lines`', settlementWithLines) },
      problems: settlementProblems,
    }),
  },
  '/v1/admin/settlements/{id}/lines.csv': {
    get: operation('get', {
      operationId: 'getSettlementLinesCsv',
      summary: "A settlement's lines as CSV",
      tag: 'Settlements',
      admin: true,
      requestParams: { path: settlementPath },
      responses: {
        200: {
          description: 'RFC 4180, CRLF line ends, header `payment_id,kind,amount,fee,at`',
          headers: z.object({ 'Content-Disposition': z.string().meta({ description: '`attachment; filename="<id>.csv"`' }) }),
          content: { 'text/csv': { schema: z.string() } },
        },
      },
      problems: settlementProblems,
    }),
  },
};
