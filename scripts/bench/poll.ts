import { setTimeout as sleep } from 'node:timers/promises';

/** Calls `check` every `intervalMs` until it returns true; false once `timeoutMs` has passed. */
export async function pollUntil(check: () => Promise<boolean>, timeoutMs: number, intervalMs = 200): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(intervalMs);
  }
}

/** Like pollUntil, but a timeout is an error naming what never happened. */
export async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs: number, intervalMs = 200): Promise<void> {
  if (!(await pollUntil(check, timeoutMs, intervalMs))) {
    throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}`);
  }
}
