import { setMaxListeners } from 'node:events';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { Webhook } from 'standardwebhooks';
import { request } from 'undici';

export interface WebhookRetry {
  /** Deliveries tried in all, the first included. */
  attempts: number;
  /** Wait before the first retry; it doubles for every further one. */
  baseMs: number;
}

const TIMEOUT_MS = 5_000;

export interface WebhookSenderOptions {
  secret: string;
  retry: WebhookRetry;
  logger: Logger;
}

export type WebhookSender = ReturnType<typeof createWebhookSender>;

/** Posts Standard Webhooks-signed events, retrying in the background like a real PG. */
export function createWebhookSender({ secret, retry, logger }: WebhookSenderOptions) {
  const signer = new Webhook(secret);
  const stop = new AbortController();
  // Every delivery in flight listens on this one signal; hundreds at once are normal.
  setMaxListeners(0, stop.signal);
  const inFlight = new Set<Promise<void>>();

  /** Resolves to a failure description, or undefined when the receiver took it. */
  async function post(url: string, msgId: string, payload: string): Promise<string | undefined> {
    const sentAt = new Date();
    try {
      const response = await request(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'webhook-id': msgId,
          'webhook-timestamp': String(Math.floor(sentAt.getTime() / 1000)),
          'webhook-signature': signer.sign(msgId, sentAt, payload),
        },
        body: payload,
        headersTimeout: TIMEOUT_MS,
        bodyTimeout: TIMEOUT_MS,
        signal: stop.signal,
      });
      await response.body.dump();
      return response.statusCode >= 200 && response.statusCode < 300 ? undefined : `status ${response.statusCode}`;
    } catch (err) {
      if (stop.signal.aborted) throw err;
      return err instanceof Error ? err.message : String(err);
    }
  }

  async function deliver(url: string, event: { type: string }): Promise<void> {
    // One id for every attempt, so the receiver can drop a retry it already handled.
    const msgId = `msg_${randomUUID()}`;
    const payload = JSON.stringify(event);
    for (let attempt = 1; attempt <= retry.attempts; attempt += 1) {
      if (attempt > 1) await sleep(retry.baseMs * 2 ** (attempt - 2), undefined, { signal: stop.signal });
      const failure = await post(url, msgId, payload);
      if (failure === undefined) return;
      logger.debug({ msgId, type: event.type, attempt, failure }, 'webhook delivery failed');
    }
    logger.warn({ msgId, type: event.type, attempts: retry.attempts }, 'webhook not delivered, giving up');
  }

  return {
    /** Returns at once: delivery never holds up the API answer. */
    send(url: string, event: { type: string }): void {
      if (stop.signal.aborted) return;
      const delivery = deliver(url, event).catch((err: unknown) => {
        if (!stop.signal.aborted) logger.error({ err }, 'webhook delivery crashed');
      });
      inFlight.add(delivery);
      void delivery.finally(() => inFlight.delete(delivery));
    },

    /** Cancels pending retries and in-flight posts. */
    async close(): Promise<void> {
      stop.abort();
      await Promise.allSettled(inFlight);
    },
  };
}
