import { seededRandom } from '../../src/seeded-random.ts';

export interface ProductSpec {
  id: string;
  name: string;
  price: number;
  stock: number;
  partnerId: string;
}

export interface PurchaseBody {
  customerId: string;
  items: Array<{ productId: string; quantity: number }>;
  billingKey: string;
  metadata: { chaosIndex: number };
}

/** A second request under the purchase's key: the same body (sent after, or at the same time), or another body. */
export type Duplicate = 'none' | 'replay_after' | 'replay_concurrent' | 'reuse';

export type CancelPlan = { kind: 'full' } | { kind: 'partial'; share: number };

export interface PurchasePlan {
  index: number;
  key: string;
  body: PurchaseBody;
  duplicate: Duplicate;
  /** Cancelled once it completes. */
  cancel: CancelPlan | undefined;
}

export interface LoadPlan {
  products: ProductSpec[];
  purchases: PurchasePlan[];
}

const PARTNER = 'partner-chaos';
/** Popularity skews demand, so one product sells out early and another late. */
const CATALOGUE = [
  { id: 'chaos-seat-cohort', name: 'Cohort seat', price: 300_000, weight: 0.4 },
  { id: 'chaos-book-ddia', name: 'Designing Data-Intensive Applications', price: 15_000, weight: 0.3 },
  { id: 'chaos-ticket-conf', name: 'Conference ticket', price: 120_000, weight: 0.2 },
  { id: 'chaos-mug', name: 'Mug', price: 9_900, weight: 0.1 },
];
/** Stock is this share of what the purchases ask for, so a good part of them find it sold out. */
const STOCK_SHARE = 0.6;
const REPLAY_AFTER_RATE = 0.025;
const REPLAY_CONCURRENT_RATE = 0.025;
const REUSE_RATE = 0.02;
const CANCEL_RATE = 0.1;

export function planLoad(payments: number, seed: number): LoadPlan {
  const random = seededRandom(seed);
  const pickProduct = (candidates = CATALOGUE) => {
    let r = random() * candidates.reduce((sum, p) => sum + p.weight, 0);
    return candidates.find((p) => (r -= p.weight) < 0) ?? candidates.at(-1)!;
  };
  const quantity = () => 1 + Math.floor(random() * 3);

  const purchases: PurchasePlan[] = [];
  for (let index = 0; index < payments; index++) {
    const first = pickProduct();
    const items = [{ productId: first.id, quantity: quantity() }];
    // Some baskets hold two products: one payment reserving several rows.
    if (random() < 0.15) items.push({ productId: pickProduct(CATALOGUE.filter((p) => p !== first)).id, quantity: quantity() });
    const d = random();
    const duplicate: Duplicate =
      d < REPLAY_AFTER_RATE
        ? 'replay_after'
        : d < REPLAY_AFTER_RATE + REPLAY_CONCURRENT_RATE
          ? 'replay_concurrent'
          : d < REPLAY_AFTER_RATE + REPLAY_CONCURRENT_RATE + REUSE_RATE
            ? 'reuse'
            : 'none';
    const cancel: CancelPlan | undefined =
      random() >= CANCEL_RATE ? undefined : random() < 0.5 ? { kind: 'full' } : { kind: 'partial', share: 0.2 + random() * 0.6 };
    purchases.push({
      index,
      key: `chaos-${index}`,
      // bk_chaos_* follow the PG's chaos rates; bk_test_* would force one outcome.
      body: { customerId: `chaos-customer-${index % 97}`, items, billingKey: `bk_chaos_${index}`, metadata: { chaosIndex: index } },
      duplicate,
      cancel,
    });
  }

  const demand = new Map<string, number>();
  for (const { body } of purchases) {
    for (const { productId, quantity: q } of body.items) demand.set(productId, (demand.get(productId) ?? 0) + q);
  }
  const products = CATALOGUE.map(({ id, name, price }) => ({
    id,
    name,
    price,
    stock: Math.max(1, Math.round((demand.get(id) ?? 0) * STOCK_SHARE)),
    partnerId: PARTNER,
  }));
  return { products, purchases };
}

/** The same key with another body: one more unit of the first item. */
export function reusedBody(body: PurchaseBody): PurchaseBody {
  const [first, ...rest] = body.items;
  return { ...body, items: [{ ...first!, quantity: first!.quantity + 1 }, ...rest] };
}
