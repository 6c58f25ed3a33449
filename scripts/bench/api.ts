/** The few HTTP calls the bench makes besides the load itself. */
import { request } from 'undici';
import { ADMIN_TOKEN, PG_SECRET } from './credentials.ts';

async function call<T>(method: 'GET' | 'POST', url: string, headers: Record<string, string>, body?: unknown): Promise<T> {
  const response = await request(url, {
    method,
    headers: body === undefined ? headers : { ...headers, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.body.text();
  if (response.statusCode >= 300) throw new Error(`${method} ${url} answered ${response.statusCode}: ${text.slice(0, 300)}`);
  return (response.headers['content-type'] ?? '').toString().includes('json') ? (JSON.parse(text) as T) : (text as T);
}

/** What the bench reads of a payment resource. */
export interface PaymentView {
  id: string;
  status: string;
  createdAt: string;
  updatedAt: string;
}

/** Creates `count` products of one partner with `stockEach` units each; returns their ids. */
export async function createProducts(baseUrl: string, count: number, stockEach: number): Promise<string[]> {
  const ids = Array.from({ length: count }, (_, i) => `bench-product-${i}`);
  for (const id of ids) {
    await call('POST', `${baseUrl}/v1/products`, { authorization: `Bearer ${ADMIN_TOKEN}` }, {
      id,
      name: `Bench product ${id}`,
      price: 10_000,
      stock: stockEach,
      partnerId: 'bench-partner',
    });
  }
  return ids;
}

/** Every payment, newest first, one page of 100 after another (the created-at index serves it). */
export async function listAllPayments(baseUrl: string): Promise<PaymentView[]> {
  const all: PaymentView[] = [];
  let cursor: string | null = null;
  do {
    const query: string = cursor ? `&cursor=${encodeURIComponent(cursor)}` : '';
    const page: { data: PaymentView[]; nextCursor: string | null } = await call('GET', `${baseUrl}/v1/payments?limit=100${query}`, {});
    all.push(...page.data);
    cursor = page.nextCursor;
  } while (cursor);
  return all;
}

export function getPayment(baseUrl: string, id: string): Promise<PaymentView> {
  return call('GET', `${baseUrl}/v1/payments/${encodeURIComponent(id)}`, {});
}

export async function anyProcessing(baseUrl: string): Promise<boolean> {
  const page = await call<{ data: unknown[] }>('GET', `${baseUrl}/v1/payments?status=processing&limit=1`, {});
  return page.data.length > 0;
}

/** Prometheus samples by `name{labels}` exactly as printed, e.g. `paystate_payments{status="completed"}`. */
export async function readMetrics(baseUrl: string): Promise<Map<string, number>> {
  const text = await call<string>('GET', `${baseUrl}/metrics`, {});
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    samples.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return samples;
}

const IN_FLIGHT = new Set(['processing', 'cancel_requested']);

/** Completed, rejected, failed, …: no longer in flight. */
export function atRest(status: string): boolean {
  return !IN_FLIGHT.has(status);
}

export interface StatusCounts {
  processing: number;
  completed: number;
  /** Every payment no longer in flight: completed, rejected, failed, … */
  rested: number;
  actorsInMemory: number;
}

export async function statusCounts(baseUrl: string): Promise<StatusCounts> {
  const samples = await readMetrics(baseUrl);
  const counts: StatusCounts = { processing: 0, completed: 0, rested: 0, actorsInMemory: samples.get('paystate_actors_in_memory') ?? 0 };
  for (const [key, value] of samples) {
    const status = /^paystate_payments\{status="([a-z_]+)"\}$/.exec(key)?.[1];
    if (!status) continue;
    if (status === 'processing') counts.processing = value;
    if (status === 'completed') counts.completed = value;
    if (atRest(status)) counts.rested += value;
  }
  return counts;
}

export interface LedgerEntry {
  paymentId: string;
  status: string;
  requestedAt: string;
  updatedAt: string;
}

const pgAuth = { authorization: `PortOne ${PG_SECRET}` };

export async function mockLedger(pgUrl: string): Promise<LedgerEntry[]> {
  return (await call<{ payments: LedgerEntry[] }>('GET', `${pgUrl}/__ledger`, pgAuth)).payments;
}

export async function setChaos(pgUrl: string, settings: { delayRate?: number; delayMs?: number }): Promise<void> {
  await call('POST', `${pgUrl}/__chaos`, pgAuth, settings);
}
