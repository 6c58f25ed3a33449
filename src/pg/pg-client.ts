import { Pool } from 'undici';
import type { PgPaymentStatus, PgRecord } from '../../machines/payment.machine.ts';
import type { Logger } from '../logger.ts';
import { createCallSlots, type SlotOutcome } from './call-slots.ts';

/** What a charge call tells us. `unknown` means the customer may or may not be charged. */
export type ChargeResult =
  | { kind: 'paid'; pgTxId: string; paidAt: string | null }
  | { kind: 'declined'; code: string; pgCode: string | null; message: string }
  | { kind: 'unknown'; reason: string };

/** The PG's record of a payment, as the payment machine decides on it. */
export type LookupResult = PgRecord;

export type CancelResult =
  | { kind: 'cancelled'; cancellationId: string | null; amount: number; cancelledAt: string | null }
  | { kind: 'refused'; code: string }
  | { kind: 'unknown'; reason: string };

/** A payment in the PG's list, as settlement compares it. */
export interface ListedPayment {
  paymentId: string;
  status: string;
  /** What the payment was for (`amount.total`). */
  amount: number;
  paidAt: string | null;
}

/** One page of the PG's list; `cursor` goes back to ask for the next one (null: the list is over). */
export type PaymentPage =
  | { kind: 'page'; items: ListedPayment[]; cursor: string | null }
  | { kind: 'unknown'; reason: string };

export interface PageRequest {
  /** Creation time range, RFC 3339: from inclusive, until exclusive. */
  from: string;
  until: string;
  cursor: string | null;
  size: number;
}

export interface ChargeRequest {
  paymentId: string;
  billingKey: string;
  orderName: string;
  amount: number;
  currency: string;
  customerId: string;
}

export interface CancelRequest {
  paymentId: string;
  /** Omitted: everything still cancellable. */
  amount?: number;
  reason: string;
  idempotencyKey: string;
}

/**
 * `signal`: the caller (a payment step) is gone; a call still waiting for a connection is
 * then never sent.
 */
export interface PgClient {
  chargeWithBillingKey(request: ChargeRequest, signal?: AbortSignal): Promise<ChargeResult>;
  getPayment(paymentId: string, signal?: AbortSignal): Promise<LookupResult>;
  cancelPayment(request: CancelRequest, signal?: AbortSignal): Promise<CancelResult>;
  /** A page of the payments created in a time range, oldest first (PortOne V2 `GET /payments-by-cursor`). */
  listPayments(request: PageRequest, signal?: AbortSignal): Promise<PaymentPage>;
  /** Calls waiting for a connection. */
  readonly queued: number;
  close(): Promise<void>;
}

export type PgOperation = 'charge' | 'lookup' | 'cancel' | 'list';

export interface PgClientOptions {
  baseUrl: string;
  secret: string;
  storeId: string;
  timeoutMs: number;
  connections: number;
  /** Longest wait for a connection; past it the call is not sent (see call-slots.ts). */
  queueTimeoutMs: number;
  logger: Logger;
  /** Told about every call that was sent, for metrics and PG health. */
  onCall?: (operation: PgOperation, outcome: string, seconds: number) => void;
  /** Told how long each call waited for a connection, and whether it got one. */
  onQueueWait?: (operation: PgOperation, outcome: SlotOutcome, seconds: number) => void;
  /** Told about every 401/403 answer: our secret or store id is wrong, and no payment can move. */
  onAuthFailure?: (operation: PgOperation, status: number) => void;
}

interface RawResponse {
  status: number;
  body: Record<string, unknown>;
}

/**
 * PortOne V2 client over one undici Pool. Every call has a deadline far below the PG's
 * 60 s delays, so a slow PG costs a timeout and an inquiry; the deadline runs from when
 * the call gets one of the pool's connections, and the wait for one is bounded too
 * (call-slots.ts). PortOne's answers become typed outcomes here and nowhere else.
 */
export function createPgClient(options: PgClientOptions): PgClient {
  const pool = new Pool(options.baseUrl, { connections: options.connections, pipelining: 1 });
  const slots = createCallSlots(options.connections);
  const log = options.logger;

  async function call(
    operation: PgOperation,
    method: 'GET' | 'POST',
    path: string,
    request: { body?: unknown; headers?: Record<string, string>; signal?: AbortSignal | undefined } = {},
  ): Promise<RawResponse | { error: string }> {
    const { body, headers: extraHeaders = {}, signal } = request;
    const asked = performance.now();
    let slot = await slots.acquire(options.queueTimeoutMs, signal);
    if (slot === 'acquired' && signal?.aborted) {
      // The step stopped between being handed the slot and getting here.
      slots.release();
      slot = 'aborted';
    }
    const started = performance.now();
    options.onQueueWait?.(operation, slot, (started - asked) / 1000);
    if (slot !== 'acquired') {
      // Never sent: the PG cannot have acted on it. Reported as no answer all the same.
      if (slot === 'expired') log.warn({ operation, path, queued: slots.queued }, 'pg call not sent: no connection in time');
      return { error: slot === 'expired' ? 'not_sent_queue_timeout' : 'not_sent_cancelled' };
    }
    try {
      const response = await pool.request({
        method,
        path,
        headers: {
          authorization: `PortOne ${options.secret}`,
          'content-type': 'application/json',
          ...extraHeaders,
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        headersTimeout: options.timeoutMs,
        bodyTimeout: options.timeoutMs,
        signal: AbortSignal.timeout(options.timeoutMs),
      });
      const text = await response.body.text();
      const parsed = parseJsonObject(text);
      options.onCall?.(operation, String(response.statusCode), (performance.now() - started) / 1000);
      if (AUTH_FAILURES.has(response.statusCode)) {
        log.error({ operation, path, status: response.statusCode }, 'pg refused our credentials');
        options.onAuthFailure?.(operation, response.statusCode);
      }
      return { status: response.statusCode, body: parsed };
    } catch (error) {
      const reason = errorReason(error);
      options.onCall?.(operation, reason, (performance.now() - started) / 1000);
      log.warn({ operation, path, reason }, 'pg call failed without an answer');
      return { error: reason };
    } finally {
      slots.release();
    }
  }

  return {
    async chargeWithBillingKey(request, signal) {
      const response = await call('charge', 'POST', `/payments/${encodeURIComponent(request.paymentId)}/billing-key`, {
        body: {
          storeId: options.storeId,
          billingKey: request.billingKey,
          orderName: request.orderName,
          amount: { total: request.amount },
          currency: request.currency,
          customer: { id: request.customerId },
        },
        signal,
      });
      return toChargeResult(response);
    },

    async getPayment(paymentId, signal) {
      const response = await call('lookup', 'GET', `/payments/${encodeURIComponent(paymentId)}`, { signal });
      return toLookupResult(response);
    },

    async cancelPayment(request, signal) {
      const response = await call('cancel', 'POST', `/payments/${encodeURIComponent(request.paymentId)}/cancel`, {
        body: { storeId: options.storeId, amount: request.amount, reason: request.reason },
        headers: { 'idempotency-key': request.idempotencyKey },
        signal,
      });
      return toCancelResult(response);
    },

    async listPayments({ from, until, cursor, size }, signal) {
      // The SDK's getAllPaymentsByCursor sends its body as one JSON query parameter.
      const requestBody = JSON.stringify({ storeId: options.storeId, from, until, cursor: cursor ?? undefined, size });
      const response = await call('list', 'GET', `/payments-by-cursor?requestBody=${encodeURIComponent(requestBody)}`, { signal });
      return toPaymentPage(response, size);
    },

    get queued() {
      return slots.queued;
    },

    close: () => pool.close(),
  };
}

/**
 * The error types by which PortOne says it did not and will not do what was asked. Taken from
 * the error unions of @portone/server-sdk 0.19 (dist/generated/payment/client.d.ts:
 * `PayWithBillingKeyError`, `CancelPaymentError`). Every other answer, including types PortOne
 * does not name, leaves the outcome unknown: it proves nothing about what happened.
 *
 * Left out of the charge set on purpose: ALREADY_PAID (our own charge may have landed: inquiry
 * decides), PAYMENT_SCHEDULE_ALREADY_EXISTS (a schedule for this id may still charge it), and
 * UNAUTHORIZED / FORBIDDEN (our configuration, see AUTH_FAILURES).
 */
const CHARGE_REFUSALS: ReadonlySet<string> = new Set([
  'PG_PROVIDER',
  'BILLING_KEY_NOT_FOUND',
  'BILLING_KEY_ALREADY_DELETED',
  'CHANNEL_NOT_FOUND',
  'INVALID_REQUEST',
  'MAX_TRANSACTION_COUNT_REACHED',
  'DISCOUNT_AMOUNT_EXCEEDS_TOTAL_AMOUNT',
  'SUM_OF_PARTS_EXCEEDS_TOTAL_AMOUNT',
  'PROMOTION_PAY_METHOD_DOES_NOT_MATCH',
]);

/** Every named error of `CancelPaymentError` but UNAUTHORIZED and FORBIDDEN. */
const CANCEL_REFUSALS: ReadonlySet<string> = new Set([
  'PAYMENT_NOT_FOUND',
  'PAYMENT_NOT_PAID',
  'PAYMENT_ALREADY_CANCELLED',
  'CANCEL_AMOUNT_EXCEEDS_CANCELLABLE_AMOUNT',
  'CANCEL_TAX_AMOUNT_EXCEEDS_CANCELLABLE_TAX_AMOUNT',
  'CANCEL_TAX_FREE_AMOUNT_EXCEEDS_CANCELLABLE_TAX_FREE_AMOUNT',
  'CANCELLABLE_AMOUNT_CONSISTENCY_BROKEN',
  'SUM_OF_PARTS_EXCEEDS_CANCEL_AMOUNT',
  'NEGATIVE_PROMOTION_ADJUSTED_CANCEL_AMOUNT',
  'PROMOTION_DISCOUNT_RETAIN_OPTION_SHOULD_NOT_BE_CHANGED',
  'INVALID_REQUEST',
  'PG_PROVIDER',
]);

/** A wrong secret or store is our fault, not the payment's: the caller keeps asking. */
const AUTH_FAILURES = new Map<number, string>([
  [401, 'pg_unauthorized'],
  [403, 'pg_forbidden'],
]);

/** "Try again later" answers, whatever their body says. */
const RETRY_LATER = new Set([408, 429]);

type UnknownOutcome = { kind: 'unknown'; reason: string };

/**
 * Reads a non-200 answer to a charge or cancel. The named type decides, not the status alone:
 * PortOne sends PG_PROVIDER as 502 (the mock PG as 400), while a 5xx without a named type is
 * a PG or proxy in trouble.
 */
function classifyError(
  status: number,
  body: Record<string, unknown>,
  refusals: ReadonlySet<string>,
): { kind: 'refusal'; type: string } | UnknownOutcome {
  const type = errorType(body);
  const final = status >= 400 && !AUTH_FAILURES.has(status) && !RETRY_LATER.has(status) && refusals.has(type);
  return final ? { kind: 'refusal', type } : unknownOutcome(status, body);
}

function unknownOutcome(status: number, body: Record<string, unknown>): UnknownOutcome {
  return { kind: 'unknown', reason: AUTH_FAILURES.get(status) ?? (errorType(body) || `http_${status}`) };
}

function errorType(body: Record<string, unknown>): string {
  return typeof body.type === 'string' ? body.type : '';
}

function toChargeResult(response: RawResponse | { error: string }): ChargeResult {
  if ('error' in response) return { kind: 'unknown', reason: response.error };
  const { status, body } = response;
  if (status === 200) {
    const payment = body.payment as { pgTxId?: unknown; paidAt?: unknown } | undefined;
    return { kind: 'paid', pgTxId: String(payment?.pgTxId ?? ''), paidAt: timestampOrNull(payment?.paidAt) };
  }
  const answer = classifyError(status, body, CHARGE_REFUSALS);
  if (answer.kind === 'unknown') return answer;
  const message = String(body.message ?? answer.type);
  if (answer.type === 'PG_PROVIDER') {
    return { kind: 'declined', code: 'card_declined', pgCode: stringOrNull(body.pgCode), message: String(body.pgMessage ?? message) };
  }
  if (answer.type === 'BILLING_KEY_NOT_FOUND') return { kind: 'declined', code: 'billing_key_not_found', pgCode: null, message };
  return { kind: 'declined', code: 'pg_rejected', pgCode: answer.type, message };
}

const PG_STATUSES = new Set<PgPaymentStatus>(['READY', 'PENDING', 'PAID', 'FAILED', 'PARTIAL_CANCELLED', 'CANCELLED']);

function toLookupResult(response: RawResponse | { error: string }): LookupResult {
  if ('error' in response) return { kind: 'unknown', reason: response.error };
  const { status, body } = response;
  // Besides a payment with a status we know, only PortOne's own 404 settles a lookup.
  if (status === 404 && errorType(body) === 'PAYMENT_NOT_FOUND') return { kind: 'not_found' };
  if (status !== 200 || !PG_STATUSES.has(body.status as PgPaymentStatus)) return unknownOutcome(status, body);
  const amount = (body.amount ?? {}) as { paid?: unknown; cancelled?: unknown };
  return {
    kind: 'found',
    status: body.status as PgPaymentStatus,
    pgTxId: stringOrNull(body.pgTxId),
    paidAt: timestampOrNull(body.paidAt),
    paidAmount: Number(amount.paid ?? 0),
    cancelledAmount: Number(amount.cancelled ?? 0),
    cancelledAt: timestampOrNull(body.cancelledAt),
  };
}

function toPaymentPage(response: RawResponse | { error: string }, size: number): PaymentPage {
  if ('error' in response) return { kind: 'unknown', reason: response.error };
  const { status, body } = response;
  if (status !== 200 || !Array.isArray(body.items)) return unknownOutcome(status, body);
  const entries = body.items as Array<{ payment?: Record<string, unknown>; cursor?: unknown }>;
  const items: ListedPayment[] = [];
  for (const { payment } of entries) {
    const amount = (payment?.amount ?? {}) as { total?: unknown };
    if (typeof payment?.id !== 'string' || typeof amount.total !== 'number') return { kind: 'unknown', reason: 'malformed_list' };
    items.push({ paymentId: payment.id, status: String(payment.status), amount: amount.total, paidAt: timestampOrNull(payment.paidAt) });
  }
  // A short page is the last one; a full one must say where the next begins.
  if (entries.length < size) return { kind: 'page', items, cursor: null };
  const cursor = stringOrNull(entries.at(-1)?.cursor);
  return cursor === null ? { kind: 'unknown', reason: 'malformed_list' } : { kind: 'page', items, cursor };
}

function toCancelResult(response: RawResponse | { error: string }): CancelResult {
  if ('error' in response) return { kind: 'unknown', reason: response.error };
  const { status, body } = response;
  if (status === 200) {
    const cancellation = (body.cancellation ?? {}) as { id?: unknown; totalAmount?: unknown; cancelledAt?: unknown };
    return {
      kind: 'cancelled',
      cancellationId: stringOrNull(cancellation.id),
      amount: Number(cancellation.totalAmount ?? 0),
      cancelledAt: timestampOrNull(cancellation.cancelledAt),
    };
  }
  const answer = classifyError(status, body, CANCEL_REFUSALS);
  return answer.kind === 'refusal' ? { kind: 'refused', code: answer.type } : answer;
}

function parseJsonObject(text: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === 'object' ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** An RFC 3339 time (with its offset) the PG sent, or null when it sent none or something else. */
function timestampOrNull(value: unknown): string | null {
  // Without an offset, Date.parse would read the time in this host's zone.
  return typeof value === 'string' && /(Z|[+-]\d{2}:\d{2})$/i.test(value) && !Number.isNaN(Date.parse(value)) ? value : null;
}

function stringOrNull(value: unknown): string | null {
  return typeof value === 'string' && value.length > 0 ? value : null;
}

function errorReason(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string') return code.toLowerCase();
    if (error.name === 'TimeoutError' || error.name === 'AbortError') return 'timeout';
    return error.name;
  }
  return 'unknown_error';
}
