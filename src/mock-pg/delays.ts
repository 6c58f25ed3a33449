import { setMaxListeners } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';

export type Delays = ReturnType<typeof createDelays>;

/** The waits of delayed requests, all cancelled at once when the server closes. */
export function createDelays() {
  const stop = new AbortController();
  // Every delayed request waits on this one signal; thousands at once are normal under chaos.
  setMaxListeners(0, stop.signal);
  return {
    /** Resolves true after `ms`, or false as soon as the server is closing. */
    async wait(ms: number): Promise<boolean> {
      try {
        await sleep(ms, undefined, { signal: stop.signal });
        return true;
      } catch {
        return false;
      }
    },

    cancelAll(): void {
      stop.abort();
    },
  };
}
