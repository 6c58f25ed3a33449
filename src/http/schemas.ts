import { z } from 'zod';
import { PUBLIC_STATUSES } from '../../machines/payment-status.ts';

const id = z.string().min(1).max(255);
const money = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

export const IDEMPOTENCY_KEY = /^[A-Za-z0-9_.:-]{1,255}$/;

export const productBody = z.object({
  id: z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'letters, digits and _ . : - only, at most 64').optional(),
  name: z.string().min(1).max(200),
  price: money,
  stock: z.number().int().nonnegative().max(1_000_000_000),
  partnerId: id,
});

export const paymentBody = z.object({
  customerId: id,
  items: z
    .array(z.object({ productId: id, quantity: z.number().int().min(1).max(1000) }))
    .min(1)
    .max(50),
  billingKey: z.string().min(1).max(255),
  orderName: z.string().min(1).max(200).optional(),
  metadata: z.record(z.string(), z.unknown()).optional(),
});

export const cancelBody = z.object({
  reason: z.string().min(1).max(500),
  amount: z.number().int().positive().max(Number.MAX_SAFE_INTEGER).optional(),
});

export const createQuery = z.object({
  wait: z.coerce.number().min(0).max(30).optional(),
});

export const listQuery = z.object({
  customerId: id.optional(),
  status: z.enum(PUBLIC_STATUSES).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().max(200).optional(),
});

export const pathId = z.object({ id });
