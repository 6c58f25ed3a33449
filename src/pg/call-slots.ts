/**
 * At most `limit` calls at the PG at once; the rest wait here, first come first served.
 * A call's PG deadline starts when it gets a slot: time spent queued behind a burst
 * (10,000 payments resumed after a crash) is not the PG being slow, and must not turn
 * thousands of calls that never left this process into timeouts and backoffs.
 *
 * The wait itself is bounded too: a call that could not be sent within `maxWaitMs`, or
 * whose payment step was stopped meanwhile (evicted, lease lost), is never sent. So a
 * call reaches the PG only while its step still waits for the answer: no charge arrives
 * after its payment has moved on (asked the PG, found nothing, charged again).
 */
export type SlotOutcome = 'acquired' | 'expired' | 'aborted';

export interface CallSlots {
  acquire(maxWaitMs: number, signal?: AbortSignal): Promise<SlotOutcome>;
  /** Gives back an acquired slot. */
  release(): void;
  /** Calls waiting for a slot. */
  readonly queued: number;
}

interface Waiter {
  /** Expired or aborted waiters stay in the queue until release() passes them. */
  settled: boolean;
  grant(): void;
}

export function createCallSlots(limit: number): CallSlots {
  let inUse = 0;
  let queued = 0;
  // A queue read from `head`: Array#shift would move every waiter on each release.
  let waiting: Waiter[] = [];
  let head = 0;

  function next(): Waiter | undefined {
    while (head < waiting.length) {
      const waiter = waiting[head++]!;
      if (head === waiting.length || head >= 1024) {
        waiting = waiting.slice(head);
        head = 0;
      }
      if (!waiter.settled) return waiter;
    }
    return undefined;
  }

  return {
    acquire(maxWaitMs, signal) {
      if (signal?.aborted) return Promise.resolve('aborted');
      if (inUse < limit) {
        inUse++;
        return Promise.resolve('acquired');
      }
      return new Promise<SlotOutcome>((resolve) => {
        const settle = (outcome: SlotOutcome) => {
          if (waiter.settled) return;
          waiter.settled = true;
          queued--;
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          resolve(outcome);
        };
        const onAbort = () => settle('aborted');
        const waiter: Waiter = { settled: false, grant: () => settle('acquired') };
        const timer = setTimeout(() => settle('expired'), maxWaitMs);
        signal?.addEventListener('abort', onAbort, { once: true });
        waiting.push(waiter);
        queued++;
      });
    },

    release() {
      if (inUse === 0) throw new Error('call slot released more often than acquired');
      // The slot passes straight to the next caller, so inUse stays the same.
      const waiter = next();
      if (waiter) waiter.grant();
      else inUse--;
    },

    get queued() {
      return queued;
    },
  };
}
