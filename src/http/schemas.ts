import { z } from 'zod';
import { PUBLIC_STATUSES } from '../../machines/payment-status.ts';

const id = z.string().min(1).max(255);
/** Prices are positive integers: a product priced 0 would only fail later, at the PG. */
const price = z.number().int().positive().max(Number.MAX_SAFE_INTEGER);

export const IDEMPOTENCY_KEY = /^[A-Za-z0-9_.:-]{1,255}$/;

/**
 * A whole number in a query string, written in decimal digits only: `Number()` alone
 * would also take `0x10`, `1e1` and ` 5 `.
 */
export function queryInteger(min: number, max: number, fallback: number) {
  return z
    .string()
    .regex(/^\d{1,9}$/, `an integer ${min}–${max}`)
    .transform(Number)
    .pipe(z.number().int().min(min).max(max))
    .default(fallback);
}

export const productListQuery = z.object({
  limit: queryInteger(1, 100, 100),
  /** The last id of the previous page. */
  cursor: z.string().min(1).max(64).optional(),
});

export const productBody = z.object({
  id: z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'letters, digits and _ . : - only, at most 64').optional(),
  name: z.string().min(1).max(200),
  price,
  stock: z.number().int().nonnegative().max(1_000_000_000),
  partnerId: id,
});

/** What a client may attach to a payment: small and shallow, so storing and hashing it stays cheap. */
export const METADATA_LIMITS = { depth: 5, keys: 50, keyLength: 40, stringLength: 500, bytes: 8 * 1024 };

/**
 * The first bound a metadata value breaks, or undefined. The walk keeps its own stack
 * (a deep value cannot overflow the call stack) and goes no deeper than one level past the limit.
 */
function metadataViolation(metadata: Record<string, unknown>): string | undefined {
  const { depth: maxDepth, keys: maxKeys, keyLength, stringLength, bytes } = METADATA_LIMITS;
  const pending: Array<{ value: unknown; depth: number }> = [{ value: metadata, depth: 1 }];
  let keys = 0;
  for (let item = pending.pop(); item; item = pending.pop()) {
    const { value, depth } = item;
    if (typeof value === 'string' && value.length > stringLength) return `strings are at most ${stringLength} characters`;
    if (value === null || typeof value !== 'object') continue;
    if (depth > maxDepth) return `at most ${maxDepth} levels deep`;
    if (Array.isArray(value)) {
      for (const element of value) pending.push({ value: element, depth: depth + 1 });
      continue;
    }
    const entries = Object.entries(value);
    keys += entries.length;
    if (keys > maxKeys) return `at most ${maxKeys} keys in all`;
    for (const [key, child] of entries) {
      if (key.length > keyLength) return `keys are at most ${keyLength} characters`;
      pending.push({ value: child, depth: depth + 1 });
    }
  }
  // Measured last: the shape checks above keep JSON.stringify's own recursion shallow.
  if (Buffer.byteLength(JSON.stringify(metadata)) > bytes) return `at most ${bytes} bytes as JSON`;
  return undefined;
}

const metadata = z.record(z.string(), z.unknown()).superRefine((value, ctx) => {
  const violation = metadataViolation(value);
  if (violation) ctx.addIssue({ code: 'custom', message: violation });
});

export const paymentBody = z.object({
  customerId: id,
  items: z
    .array(z.object({ productId: id, quantity: z.number().int().min(1).max(1000) }))
    .min(1)
    .max(50),
  billingKey: z.string().min(1).max(255),
  orderName: z.string().min(1).max(200).optional(),
  metadata: metadata.optional(),
});

export const cancelBody = z.object({
  reason: z.string().min(1).max(500),
  amount: z.number().int().positive().max(Number.MAX_SAFE_INTEGER).optional(),
});

/** `?wait=N` (0–30 s): answer when the payment leaves its in-flight status, or after N seconds. */
export const waitQuery = z.object({
  wait: z
    .string()
    .regex(/^\d{1,2}(\.\d{1,3})?$/, 'seconds, 0–30')
    .transform(Number)
    .pipe(z.number().min(0).max(30))
    .optional(),
});

/** An instant with its offset (`2026-12-01T00:00:00+09:00`): a bare date would leave the time zone unsaid. */
const instant = z.iso.datetime({ offset: true }).transform((value) => Date.parse(value));

export const listQuery = z.object({
  customerId: id.optional(),
  status: z.enum(PUBLIC_STATUSES).optional(),
  partnerId: id.optional(),
  /** Created at or after this instant … */
  from: instant.optional(),
  /** … and before this one. */
  to: instant.optional(),
  limit: queryInteger(1, 100, 20),
  cursor: z.string().max(200).optional(),
});

export const pathId = z.object({ id });
