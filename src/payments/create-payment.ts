import type { Database } from '../../db/connection.ts';
import { findPaymentByIdempotencyKey, type PaymentRow, type PaymentViewRow } from '../../db/payments-repo.ts';
import { findProducts } from '../../db/products-repo.ts';
import type { RetryPolicy } from '../../machines/payment.machine.ts';
import { AppError, validationFailed } from '../errors.ts';
import { timeOrderedId } from '../ids.ts';
import { fingerprint } from './fingerprint.ts';
import type { PaymentHost } from './payment-host.ts';

export interface PaymentRequest {
  customerId: string;
  items: Array<{ productId: string; quantity: number }>;
  billingKey: string;
  orderName?: string | undefined;
  metadata?: Record<string, unknown> | undefined;
}

export interface CreateResult {
  /** The payment as committed: by this request, or by the first one with its key (a replay). */
  row: PaymentViewRow;
  replayed: boolean;
}

export interface CreatePaymentDeps {
  db: Database;
  host: PaymentHost;
  retry: RetryPolicy;
  clock: () => number;
}

/** Time-ordered payment ids with 64 random bits: newer payments sort after older ones. */
export const newPaymentId = (now: number): string => timeOrderedId('pay_', now);

/**
 * Accepts a purchase: prices it from the products (the client never names the amount),
 * stores it under its idempotency key and starts its actor.
 */
export function createPaymentService({ db, host, retry, clock }: CreatePaymentDeps) {
  function replay(existing: PaymentRow, print: string): CreateResult {
    if (existing.requestFingerprint !== print) {
      throw new AppError(422, 'idempotency_key_reused', 'This Idempotency-Key was used with a different request');
    }
    return { row: existing, replayed: true };
  }

  return async function createPayment(idempotencyKey: string, request: PaymentRequest): Promise<CreateResult> {
    const print = fingerprint(request);
    const existing = await findPaymentByIdempotencyKey(db.read, idempotencyKey);
    if (existing) return replay(existing, print);

    const ids = request.items.map((i) => i.productId);
    const duplicates = ids.flatMap((id, index) => (ids.indexOf(id) === index ? [] : [{ path: `items.${index}.productId`, message: 'appears twice' }]));
    if (duplicates.length > 0) throw validationFailed(duplicates);

    const products = new Map((await findProducts(db.read, ids)).map((p) => [p.id, p]));
    const unknown = request.items.flatMap((item, index) =>
      products.has(item.productId) ? [] : [{ path: `items.${index}.productId`, message: `no product ${item.productId}` }],
    );
    if (unknown.length > 0) throw new AppError(422, 'unknown_product', 'Some products do not exist', unknown);

    const priced = request.items.map((item) => {
      const product = products.get(item.productId)!;
      return { productId: item.productId, quantity: item.quantity, unitPrice: product.price, product };
    });
    const partners = new Set(priced.map((i) => i.product.partnerId));
    if (partners.size > 1) throw new AppError(422, 'mixed_partners', 'All items of a payment must belong to one partner');
    const currencies = new Set(priced.map((i) => i.product.currency));
    if (currencies.size > 1) throw new AppError(422, 'mixed_currencies', 'All items of a payment must share one currency');
    const amount = priced.reduce((sum, i) => sum + i.unitPrice * i.quantity, 0);
    if (!Number.isSafeInteger(amount)) throw new AppError(422, 'amount_too_large', 'The total is too large');

    const first = priced[0]!.product;
    const now = clock();
    const id = newPaymentId(now);
    try {
      // The row the create committed answers: reading it back would cost a round trip.
      const row = await host.create(
        {
          id,
          idempotencyKey,
          requestFingerprint: print,
          customerId: request.customerId,
          partnerId: first.partnerId,
          amount,
          currency: first.currency,
          items: JSON.stringify(priced.map(({ productId, quantity, unitPrice }) => ({ productId, quantity, unitPrice }))),
          orderName: request.orderName ?? (priced.length > 1 ? `${first.name} and ${priced.length - 1} more` : first.name),
          billingKey: request.billingKey,
          metadata: request.metadata === undefined ? null : JSON.stringify(request.metadata),
          createdAt: now,
          updatedAt: now,
        },
        { paymentId: id, amount, retry },
      );
      return { row, replayed: false };
    } catch (error) {
      // Two requests raced with one key: the other one won; answer as its replay.
      const winner = await findPaymentByIdempotencyKey(db.read, idempotencyKey);
      if (winner) return replay(winner, print);
      throw error;
    }
  };
}

export type CreatePayment = ReturnType<typeof createPaymentService>;
