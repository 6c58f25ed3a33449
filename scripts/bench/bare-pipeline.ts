import type { AddressInfo } from 'node:net';
import { bodyParser } from '@koa/bodyparser';
import Router from '@koa/router';
import Koa from 'koa';
import { Pool } from 'undici';
import { getInitialSnapshot } from 'xstate';
import { openDatabase, type Synchronous } from '../../db/connection.ts';
import { fulfilOrder } from '../../db/fulfilments-repo.ts';
import type { Fence } from '../../db/lease-fence.ts';
import {
  findPaymentByIdempotencyKey,
  insertPayment,
  markChargeStarted,
  newPaymentView,
  releaseLeases,
  writeSnapshot,
  type PaymentOrder,
} from '../../db/payments-repo.ts';
import { findProducts, insertProduct } from '../../db/products-repo.ts';
import type { Tx } from '../../db/sql.ts';
import { reserveStock } from '../../db/stock-repo.ts';
import { PAYMENT_MACHINE_VERSION, paymentMachine, type PaymentContext, type PaymentEmitted } from '../../machines/payment.machine.ts';
import type { PublicStatus } from '../../machines/payment-status.ts';
import { recordCreatedEvent, recordStatusEvents } from '../../src/events/payment-events.ts';
import type { HostWrite } from '../../src/payments/host-write.ts';
import { recordTransitionEffects } from '../../src/payments/transition-effects.ts';
import { loadConfig } from '../../src/config.ts';
import { retryPolicyFrom } from '../../src/payments/retry-policy.ts';
import { newPaymentId } from '../../src/payments/create-payment.ts';
import { toPaymentResource } from '../../src/payments/payment-view.ts';

/**
 * The bound for the clean path: the service's work per payment without actors.
 * Same HTTP in (Koa + @koa/bodyparser), the same repositories through the same group
 * commit, and the same SQLite work the actor host does for a clean payment, counted by
 * tracing the service's statements (at commit bfc858b; the steps no longer re-read the order
 * since the host keeps it):
 *
 *   commit 1  insert payment + its first transition + payment.created event   (request)
 *   commit 2  reserve stock
 *   commit 3  mark charge started | snapshot → charging + transition
 *             — one PG charge —
 *   commit 4  fulfilment row | snapshot → finalizing + transition + the charge's money movement
 *   commit 5  snapshot → completed + transition + payment.completed event
 *   commit 6  release the lease                                                (eviction)
 *
 * 8 group-commit jobs, 16 written rows, 4 row reads and one product read per payment,
 * plus the lease check of each step's write (three more reads);
 * each "commit" waits for the previous one, as the machine's steps do.
 */

const OWNER = 'bare-pipeline';
const TIMEOUT_MS = 3000;
/** The service's default policy: its snapshots are the same size. */
const RETRY = retryPolicyFrom(loadConfig({}));

const env = (name: string, fallback?: string): string => {
  const value = process.env[name] ?? fallback;
  if (value === undefined) throw new Error(`${name} is required`);
  return value;
};

const db = openDatabase(env('DATABASE_PATH'), env('SQLITE_SYNCHRONOUS', 'FULL') as Synchronous);
const pg = new Pool(env('PG_BASE_URL'), { connections: 256, pipelining: 1 });
const pgSecret = env('PG_SECRET');
const storeId = env('PG_STORE_ID', 'store-paystate-local');

const STATUS_OF: Record<string, string> = { completed: 'completed', failed: 'failed', rejected: 'rejected' };

/**
 * The persisted snapshot of the real machine, taken once: every write carries a snapshot
 * of the same shape and size as the actor host's, without running an actor per payment.
 */
const SNAPSHOT_TEMPLATE = paymentMachine.getPersistedSnapshot(
  getInitialSnapshot(paymentMachine, { paymentId: 'template', amount: 0, retry: RETRY }),
) as unknown as { context: Record<string, unknown> };

function snapshotJson(row: PaymentOrder, state: string): string {
  return JSON.stringify({
    ...SNAPSHOT_TEMPLATE,
    value: state,
    context: { ...SNAPSHOT_TEMPLATE.context, paymentId: row.id, amount: row.amount, chargeAttempts: 1 },
  });
}

/**
 * The host's write after a transition, with what the service's host writes in the same
 * transaction: the transition (with its reason), a payment event when the public status
 * changes (the outbox), and the money the PG moved (for settlement).
 */
function writeState(row: PaymentOrder, state: string, from: string, emitted: PaymentEmitted[] = []): Promise<void> {
  return db.commit.run(async (tx) => {
    const now = Date.now();
    const status = (STATUS_OF[state] ?? 'processing') as PublicStatus;
    const context = { ...SNAPSHOT_TEMPLATE.context, paymentId: row.id, amount: row.amount, chargeAttempts: 1 } as unknown as PaymentContext;
    const write: HostWrite = {
      paymentId: row.id,
      machineVersion: PAYMENT_MACHINE_VERSION,
      state,
      status,
      failureCode: null,
      cancelledAmount: 0,
      snapshot: snapshotJson(row, state),
      dueAt: null,
      active: !(state in STATUS_OF),
      updatedAt: now,
      transitions: [{ type: `bare.${state}`, reason: `bare.${state}`, from, to: state, at: now, fromStatus: 'processing', status, context, emitted }],
    };
    await writeSnapshot(tx, write, OWNER);
    await recordTransitionEffects(tx, write);
    await recordStatusEvents(tx, write, async () => row);
  });
}

async function charge(row: PaymentOrder): Promise<boolean> {
  try {
    const response = await pg.request({
      method: 'POST',
      path: `/payments/${encodeURIComponent(row.id)}/billing-key`,
      headers: { authorization: `PortOne ${pgSecret}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        storeId,
        billingKey: row.billingKey,
        orderName: row.orderName,
        amount: { total: row.amount },
        currency: row.currency,
        customer: { id: row.customerId },
      }),
      headersTimeout: TIMEOUT_MS,
      bodyTimeout: TIMEOUT_MS,
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    await response.body.json();
    return response.statusCode === 200;
  } catch {
    return false;
  }
}

/** A step's write, fenced by the lease in its statements, as the service's steps are. */
const fenced = <T>(paymentId: string, work: (tx: Tx, fence: Fence) => Promise<T>): Promise<T> =>
  db.commit.run((tx) => work(tx, { paymentId, owner: OWNER }));

/**
 * The clean path of one payment, step by step; a refusal just ends it (the bound only
 * measures clean payments). The order is the one the request made, as the service's
 * host keeps it for the payment's steps.
 */
async function drive(row: PaymentOrder): Promise<void> {
  const paymentId = row.id;
  const items = JSON.parse(row.items) as Array<{ productId: string; quantity: number }>;
  const { outcome } = await fenced(paymentId, (tx, fence) => reserveStock(tx, fence, items, Date.now()));
  if (outcome !== 'reserved') {
    await writeState(row, 'rejected', 'reserving.reservingStock');
    return;
  }
  await Promise.all([writeState(row, 'charging.calling', 'reserving.reservingStock'), fenced(paymentId, (tx, fence) => markChargeStarted(tx, fence, 1))]);
  if (!(await charge(row))) {
    await writeState(row, 'failed', 'charging.calling');
    return;
  }
  await Promise.all([
    writeState(row, 'finalizing.fulfilling', 'charging.calling', [{ type: 'money', kind: 'charge', amount: row.amount, at: Date.now() }]),
    fenced(paymentId, (tx, fence) => fulfilOrder(tx, fence, row.customerId, row.items, Date.now())),
  ]);
  await writeState(row, 'completed', 'finalizing.fulfilling');
  await db.commit.run((tx) => releaseLeases(tx, [paymentId], OWNER));
}

interface PaymentBody {
  customerId: string;
  items: Array<{ productId: string; quantity: number }>;
  billingKey: string;
}

const router = new Router();

router.post('/v1/products', async (ctx) => {
  const body = ctx.request.body as { id: string; name: string; price: number; stock: number; partnerId: string };
  await db.commit.run((tx) => insertProduct(tx, { ...body, createdAt: Date.now() }));
  ctx.status = 201;
  ctx.body = body;
});

router.post('/v1/payments', async (ctx) => {
  const key = ctx.get('idempotency-key');
  const body = ctx.request.body as PaymentBody;
  if (!key || !Array.isArray(body?.items) || body.items.length === 0) ctx.throw(400, 'idempotency key and items are required');
  const existing = await findPaymentByIdempotencyKey(db.read, key);
  if (existing) {
    ctx.status = 202;
    ctx.body = toPaymentResource(existing);
    return;
  }
  const products = new Map((await findProducts(db.read, body.items.map((i) => i.productId))).map((p) => [p.id, p]));
  const priced = body.items.map((i) => ({ ...i, product: products.get(i.productId) }));
  if (priced.some((i) => !i.product)) ctx.throw(422, 'unknown product');
  const first = priced[0]!.product!;
  const now = Date.now();
  const order: PaymentOrder = {
    id: newPaymentId(now),
    customerId: body.customerId,
    amount: priced.reduce((sum, i) => sum + i.product!.price * i.quantity, 0),
    currency: first.currency,
    items: JSON.stringify(priced.map((i) => ({ productId: i.productId, quantity: i.quantity, unitPrice: i.product!.price }))),
    orderName: first.name,
    billingKey: body.billingKey,
    partnerId: first.partnerId,
    metadata: null,
    createdAt: now,
    state: 'reserving.reservingStock',
  };
  const { id } = order;
  const row = {
    ...order,
    idempotencyKey: key,
    requestFingerprint: key,
    status: 'processing',
    snapshot: '{}',
    machineVersion: PAYMENT_MACHINE_VERSION,
    dueAt: null,
    active: 1,
    leaseOwner: OWNER,
    leaseExpiresAt: now + 30_000,
    updatedAt: now,
  };
  const view = newPaymentView(row);
  await db.commit.run(async (tx) => {
    await insertPayment(tx, row, { type: 'api.create', from: null, to: 'reserving.reservingStock', at: now });
    await recordCreatedEvent(tx, view, now);
  });
  // Started before the answer, as the host starts the actor before the route answers.
  drive(order).catch((error: unknown) => console.error(`payment ${id} failed in the bare pipeline:`, error));
  ctx.status = 202;
  ctx.body = toPaymentResource(view);
});

/** Counts by status and the last update: what the bench needs to compute throughput. */
router.get('/stats', async (ctx) => {
  ctx.body = await db.read.all('select status, count(*) as count, max(updated_at) as "lastUpdatedAt" from payments group by status');
});

const app = new Koa();
app.use(bodyParser({ enableTypes: ['json'], jsonLimit: '64kb', encoding: 'utf-8' }));
app.use(router.routes());
const server = app.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  console.log(`bare-pipeline listening on http://127.0.0.1:${port}`);
});

// A clean exit, so that a CPU profile (--profile) gets written.
process.once('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
  void (async () => {
    try {
      await db.close();
      await pg.close();
    } finally {
      process.exit(0);
    }
  })();
});
