import { findPaymentOrder, type PaymentOrder } from '../../db/payments-repo.ts';
import type { Sql } from '../../db/sql.ts';

/** What a payment's steps send and write, and its events show: fixed when the payment is created. */
export type Order = Omit<PaymentOrder, 'state'>;

/** The order's fields of a payment row (not the snapshot, which is large). */
export function orderOf(row: Order): Order {
  const { id, customerId, partnerId, amount, currency, items, orderName, metadata, billingKey, createdAt } = row;
  return { id, customerId, partnerId, amount, currency, items, orderName, metadata, billingKey, createdAt };
}

/**
 * The orders of the payments whose actors run in this process, so that a step does not
 * read its payment's row again (an order never changes once created; re-reading it cost
 * three row reads per payment, and each payment event one more). A miss, such as a step
 * that outlived its actor, reads the row.
 */
export class OrderCache {
  private readonly orders = new Map<string, Order>();

  /** `read`: committed reads (`Database.read`). */
  constructor(private readonly read: Sql) {}

  remember(order: Order): void {
    this.orders.set(order.id, orderOf(order));
  }

  forget(paymentId: string): void {
    this.orders.delete(paymentId);
  }

  /** `q`: where a miss reads the row (a write job's own transaction, rather than another connection). */
  async get(paymentId: string, q: Sql = this.read): Promise<Order | undefined> {
    return this.orders.get(paymentId) ?? findPaymentOrder(q, paymentId);
  }

  /** The order of a payment that must exist (its actor runs, or ran, here). */
  async require(paymentId: string, q?: Sql): Promise<Order> {
    const order = await this.get(paymentId, q);
    if (!order) throw new Error(`payment ${paymentId} vanished`);
    return order;
  }
}
