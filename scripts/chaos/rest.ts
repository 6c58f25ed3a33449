import { setTimeout as sleep } from 'node:timers/promises';
import type { HttpClient } from './http-client.ts';

const IN_FLIGHT = ['processing', 'cancel_requested'];
const POLL_MS = 1_000;

/** True once no payment is in flight, false if some still are at the deadline. */
export async function waitForRest(http: HttpClient, deadlineMs: number): Promise<boolean> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const remaining = deadline - Date.now();
    if (remaining <= 0) return false;
    const replies = await Promise.all(
      IN_FLIGHT.map((status) => http.send('GET', `/v1/payments?status=${status}&limit=1`, { deadlineMs: remaining }).catch(() => undefined)),
    );
    const empty = replies.every((reply) => reply?.status === 200 && (reply.body as { data?: unknown[] }).data?.length === 0);
    if (empty) return true;
    await sleep(Math.min(POLL_MS, Math.max(0, deadline - Date.now())));
  }
}
