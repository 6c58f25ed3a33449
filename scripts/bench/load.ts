import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';

/** One POST /v1/payments as the client saw it. */
export interface Ack {
  /** Epoch ms when the request was sent. */
  sentAt: number;
  ackMs: number;
  /** HTTP status, 0 when the request failed without an answer. */
  status: number;
  paymentId: string | null;
  /** Which of the URLs took it: the process that runs the payment. */
  instance: number;
}

export interface LoadResult {
  /** Accepted payments (202); the rest failed or were not sent before the time limit. */
  accepted: Ack[];
  /** Epoch ms of the first request: comparable with the service's createdAt/updatedAt (same host clock). */
  startedAt: number;
  /** Requests sent per second, from the first to the last one sent. */
  sentPerSec: number;
}

export interface LoadOptions {
  count: number;
  /** Closed loop: this many clients, each sending its next request when the last is answered. */
  concurrency: number;
  /**
   * Open loop instead: one request every 1/ratePerSec s whatever the answers, so latency is
   * measured at a known load rather than at whatever queue a saturating loop builds.
   */
  ratePerSec?: number;
  /** Stop sending new requests after this long. */
  timeLimitMs: number;
  keyPrefix: string;
  body(index: number): unknown;
}

/**
 * Posts `count` payments, closed or open loop (see LoadOptions), over one undici Pool per
 * service process: payment `index` goes to `urls[index % urls.length]`, round robin as a
 * load balancer would spread them.
 */
export async function postPayments(urls: string[], options: LoadOptions): Promise<LoadResult> {
  // Open loop: connections for a second's worth of requests, so slow acks do not hold back the rate.
  const connections = Math.max(options.concurrency, Math.ceil(options.ratePerSec ?? 0));
  const pools = urls.map((url) => new Pool(url, { connections, pipelining: 1 }));
  const acks: Ack[] = [];
  const startedAt = Date.now();
  const deadline = startedAt + options.timeLimitMs;
  let sent = 0;
  let lastSentAt = startedAt;

  async function send(index: number): Promise<void> {
    sent++;
    lastSentAt = Date.now();
    const sentAt = lastSentAt;
    const started = performance.now();
    const instance = index % pools.length;
    try {
      const response = await pools[instance]!.request({
        method: 'POST',
        path: '/v1/payments',
        headers: { 'content-type': 'application/json', 'idempotency-key': `${options.keyPrefix}-${index}` },
        body: JSON.stringify(options.body(index)),
      });
      const payload = (await response.body.json()) as { id?: unknown };
      acks.push({
        sentAt,
        ackMs: performance.now() - started,
        status: response.statusCode,
        paymentId: typeof payload.id === 'string' ? payload.id : null,
        instance,
      });
    } catch {
      acks.push({ sentAt, ackMs: performance.now() - started, status: 0, paymentId: null, instance });
    }
  }

  let next = 0;
  async function client(): Promise<void> {
    while (next < options.count && Date.now() < deadline) await send(next++);
  }

  async function paced(ratePerSec: number): Promise<void> {
    const sent: Array<Promise<void>> = [];
    for (let index = 0; index < options.count && Date.now() < deadline; index++) {
      const wait = startedAt + (index * 1000) / ratePerSec - Date.now();
      if (wait > 0) await sleep(wait);
      sent.push(send(index));
    }
    await Promise.all(sent);
  }

  try {
    if (options.ratePerSec === undefined) await Promise.all(Array.from({ length: options.concurrency }, client));
    else await paced(options.ratePerSec);
  } finally {
    await Promise.all(pools.map((pool) => pool.close()));
  }
  return {
    accepted: acks.filter((a) => a.status === 202 && a.paymentId !== null),
    startedAt,
    sentPerSec: sent / Math.max(0.001, (lastSentAt - startedAt) / 1000),
  };
}

/** The body of payment `index`: one unit of one of the bench products, spread evenly. */
export function paymentBody(index: number, productIds: string[], billingKey: string) {
  return {
    customerId: `bench-customer-${index % 1000}`,
    items: [{ productId: productIds[index % productIds.length]!, quantity: 1 }],
    billingKey,
  };
}

/**
 * The clean-path load: every payment approved at once (`bk_test_ok`). The clean part and
 * its bound offer exactly this, so their ratio compares the servers, not the loads.
 */
export function postApprovedPayments(
  urls: string[],
  products: string[],
  context: { payments: number; concurrency: number },
  keyPrefix: string,
): Promise<LoadResult> {
  return postPayments(urls, {
    count: context.payments,
    concurrency: context.concurrency,
    timeLimitMs: 300_000,
    keyPrefix,
    body: (i) => paymentBody(i, products, 'bk_test_ok'),
  });
}
