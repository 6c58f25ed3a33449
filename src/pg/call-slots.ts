/**
 * At most `limit` calls at the PG at once; the rest wait here, first come first served.
 * A call's deadline starts when it gets a slot: time spent queued behind a burst (10,000
 * payments resumed after a crash) is not the PG being slow, and must not turn thousands of
 * calls that never left this process into timeouts, inquiries and backoffs.
 */
export interface CallSlots {
  acquire(): Promise<void>;
  release(): void;
}

export function createCallSlots(limit: number): CallSlots {
  let inUse = 0;
  // A queue read from `head`: Array#shift would move every waiter on each release.
  let waiting: Array<() => void> = [];
  let head = 0;
  return {
    acquire() {
      if (inUse < limit) {
        inUse++;
        return Promise.resolve();
      }
      return new Promise<void>((resolve) => waiting.push(resolve));
    },
    release() {
      if (head === waiting.length) {
        inUse--;
        return;
      }
      // The slot passes straight to the next caller, so inUse stays the same.
      const next = waiting[head++]!;
      if (head === waiting.length || head >= 1024) {
        waiting = waiting.slice(head);
        head = 0;
      }
      next();
    },
  };
}
