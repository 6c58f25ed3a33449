import type { ParsedUrlQuery } from 'node:querystring';
import { z } from 'zod';
import { PgApiError } from './pg-api-error.ts';
import { instant, parseWith } from './request-input.ts';

// PortOne's limits for both list endpoints: 10 by default, at most 1000.
const pageSize = z.number().int().min(1).max(1000).default(10);
const INT32_MAX = 2_147_483_647;
const DEFAULT_SPAN_MS = 90 * 24 * 60 * 60 * 1000;

/** `GET /payments-by-cursor` (the SDK's `getAllPaymentsByCursor`). */
export const cursorListRequest = z.object({
  storeId: z.string().optional(),
  from: instant.optional(),
  until: instant.optional(),
  cursor: z.string().optional(),
  size: pageSize,
});

/** The PaymentStatus values of the SDK; the mock reports an in-flight charge as `PENDING`. */
const PAYMENT_STATUSES = ['READY', 'PENDING', 'VIRTUAL_ACCOUNT_ISSUED', 'PAID', 'FAILED', 'PARTIAL_CANCELLED', 'CANCELLED'] as const;

/**
 * `GET /payments` (the SDK's `getPayments`). Only these filter fields are applied; the
 * others PortOne offers (methods, pgProvider, currency, isTest, textSearch, …) are
 * dropped unread, since every payment of this mock is the same live card payment.
 */
export const pageListRequest = z.object({
  page: z
    .object({ number: z.number().int().min(0).max(INT32_MAX).default(0), size: pageSize })
    .prefault({}),
  filter: z
    .object({
      storeId: z.string().optional(),
      timestampType: z.enum(['CREATED_AT', 'STATUS_CHANGED_AT']).default('STATUS_CHANGED_AT'),
      from: instant.optional(),
      until: instant.optional(),
      status: z.array(z.enum(PAYMENT_STATUSES)).optional(),
      sortBy: z.enum(['REQUESTED_AT', 'STATUS_CHANGED_AT']).optional(),
      sortOrder: z.enum(['DESC', 'ASC']).default('DESC'),
    })
    .prefault({}),
});

/** The SDK sends a list request's body as JSON in the `requestBody` query parameter. */
export function parseRequestBody<S extends z.ZodType>(schema: S, query: ParsedUrlQuery): z.infer<S> {
  const text = query.requestBody;
  if (text === undefined) return parseWith(schema, {});
  if (typeof text !== 'string') throw new PgApiError(400, 'INVALID_REQUEST', 'requestBody must be given once');
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new PgApiError(400, 'INVALID_REQUEST', 'requestBody is not valid JSON');
  }
  return parseWith(schema, body);
}

/** Epoch milliseconds: `from` inclusive, `until` exclusive. */
export interface TimeRange {
  from: number;
  until: number;
}

/**
 * PortOne's defaults: `until` is now, `from` 90 days before `until`. A default `until`
 * lies just past now, so a payment made in this very millisecond is listed.
 */
export function timeRange(from: number | undefined, until: number | undefined, now: number): TimeRange {
  const end = until ?? now + 1;
  const start = from ?? end - DEFAULT_SPAN_MS;
  if (start > end) throw new PgApiError(400, 'INVALID_REQUEST', 'from must not be after until');
  return { from: start, until: end };
}

export function isWithin(at: number, { from, until }: TimeRange): boolean {
  return from <= at && at < until;
}
