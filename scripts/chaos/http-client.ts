import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import { increment, type RunStats } from './stats.ts';

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** Parsed JSON, or undefined when the body was not JSON. */
  body: unknown;
}

export interface SendOptions {
  body?: unknown;
  headers?: Record<string, string>;
  /** Give up retrying after this long (default REQUEST_DEADLINE_MS). */
  deadlineMs?: number;
}

/** Long enough for the service to be restarted a few times under one request. */
export const REQUEST_DEADLINE_MS = 60_000;
const ATTEMPT_TIMEOUT_MS = 30_000;
/** A 5xx is a bug to report, not an outage to wait out: a few tries, then its answer stands. */
const SERVER_ERROR_ATTEMPTS = 3;

/**
 * API.md's 503 `payment_busy`: another process holds the payment's lease (a process killed
 * holding it keeps it until it expires), so a client tries again shortly, as after a network failure.
 */
const isBusy = (reply: Reply) => reply.status === 503 && problemCode(reply) === 'payment_busy';

export type HttpClient = ReturnType<typeof createHttpClient>;

/**
 * JSON over HTTP to the service processes, as a client behind a load balancer sees them:
 * each attempt goes to the next process in turn (`baseUrls()`: the ones in service), and a
 * request that fails at the network level (its process was killed) is sent again, same
 * headers and key, to the next one, until its deadline.
 */
export function createHttpClient(baseUrls: () => string[], stats: RunStats['http']) {
  const agent = new Agent({ keepAliveTimeout: 10_000, connect: { timeout: 5_000 } });
  let turn = 0;
  const nextBaseUrl = () => {
    const urls = baseUrls();
    return urls[turn++ % urls.length]!;
  };

  async function attempt(method: 'GET' | 'POST', path: string, options: SendOptions): Promise<Reply> {
    const response = await request(`${nextBaseUrl()}${path}`, {
      dispatcher: agent,
      method,
      headers: { ...(options.body === undefined ? {} : { 'content-type': 'application/json' }), ...options.headers },
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      headersTimeout: ATTEMPT_TIMEOUT_MS,
      bodyTimeout: ATTEMPT_TIMEOUT_MS,
    });
    const text = await response.body.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    return { status: response.statusCode, headers: response.headers, body };
  }

  return {
    /** Resolves with the first non-5xx answer (or the last 5xx, or payment_busy at the deadline); throws when nothing answered by the deadline. */
    async send(method: 'GET' | 'POST', path: string, options: SendOptions = {}): Promise<Reply> {
      const deadline = Date.now() + (options.deadlineMs ?? REQUEST_DEADLINE_MS);
      let serverErrors = 0;
      for (let tries = 1; ; tries++) {
        let outcome: Reply | Error;
        try {
          outcome = await attempt(method, path, options);
        } catch (error) {
          outcome = error instanceof Error ? error : new Error(String(error));
        }
        if (!(outcome instanceof Error)) {
          if (outcome.status < 500) return outcome;
          if (isBusy(outcome)) {
            stats.busyRetries++;
          } else {
            increment(stats.serverErrors, `${method} ${routeOf(path)} ${outcome.status}`);
            if (++serverErrors >= SERVER_ERROR_ATTEMPTS) return outcome;
          }
        }
        // Full jitter, capped at 1 s: a restarted service is back within a few seconds.
        const pause = Math.random() * Math.min(1_000, 50 * 2 ** tries);
        if (Date.now() + pause >= deadline) {
          if (!(outcome instanceof Error)) return outcome;
          throw new Error(`${method} ${path}: no answer by its deadline (${describe(outcome)})`, { cause: outcome });
        }
        if (outcome instanceof Error) stats.networkRetries++;
        await sleep(pause);
      }
    },

    close: () => agent.close(),
  };
}

/** Groups error counts by endpoint rather than by payment. */
function routeOf(path: string): string {
  return path.replace(/\?.*$/, '').replace(/\/pay_[A-Za-z0-9]+/, '/:id');
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? `${code}: ${error.message}` : error.message;
}

/** The problem document's `code`, if the answer is one. */
export function problemCode(reply: Reply): string | undefined {
  const code = (reply.body as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}
