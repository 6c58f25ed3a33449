import { Pool } from 'undici';

/** One POST /v1/payments as the client saw it. */
export interface Ack {
  ackMs: number;
  /** HTTP status, 0 when the request failed without an answer. */
  status: number;
  paymentId: string | null;
}

export interface LoadResult {
  /** Accepted payments (202); the rest failed or were not sent before the time limit. */
  accepted: Ack[];
  /** Epoch ms of the first request: comparable with the service's createdAt/updatedAt (same host clock). */
  startedAt: number;
}

export interface LoadOptions {
  count: number;
  concurrency: number;
  /** Stop sending new requests after this long. */
  timeLimitMs: number;
  keyPrefix: string;
  body(index: number): unknown;
}

/**
 * Posts `count` payments from `concurrency` clients in a closed loop (each sends its next
 * request when the last one is answered), over one undici Pool with a connection per client.
 */
export async function postPayments(baseUrl: string, options: LoadOptions): Promise<LoadResult> {
  const pool = new Pool(baseUrl, { connections: options.concurrency, pipelining: 1 });
  const acks: Ack[] = [];
  const startedAt = Date.now();
  const deadline = startedAt + options.timeLimitMs;
  let next = 0;

  async function client(): Promise<void> {
    while (next < options.count && Date.now() < deadline) {
      const index = next++;
      const started = performance.now();
      try {
        const response = await pool.request({
          method: 'POST',
          path: '/v1/payments',
          headers: { 'content-type': 'application/json', 'idempotency-key': `${options.keyPrefix}-${index}` },
          body: JSON.stringify(options.body(index)),
        });
        const payload = (await response.body.json()) as { id?: unknown };
        acks.push({
          ackMs: performance.now() - started,
          status: response.statusCode,
          paymentId: typeof payload.id === 'string' ? payload.id : null,
        });
      } catch {
        acks.push({ ackMs: performance.now() - started, status: 0, paymentId: null });
      }
    }
  }

  try {
    await Promise.all(Array.from({ length: options.concurrency }, client));
  } finally {
    await pool.close();
  }
  return { accepted: acks.filter((a) => a.status === 202 && a.paymentId !== null), startedAt };
}

/** The body of payment `index`: one unit of one of the bench products, spread evenly. */
export function paymentBody(index: number, productIds: string[], billingKey: string) {
  return {
    customerId: `bench-customer-${index % 1000}`,
    items: [{ productId: productIds[index % productIds.length]!, quantity: 1 }],
    billingKey,
  };
}
