/** A FIFO drained by a fixed number of workers; after `close()` they stop once it is empty. */
export function createWorkQueue<T>() {
  const items: T[] = [];
  const waiting: Array<(item: T | undefined) => void> = [];
  let closed = false;
  return {
    push(item: T): void {
      const worker = waiting.shift();
      if (worker) worker(item);
      else items.push(item);
    },
    close(): void {
      closed = true;
      for (const worker of waiting.splice(0)) worker(undefined);
    },
    /** The next item, or undefined when the queue is closed and empty. */
    next(): Promise<T | undefined> {
      if (items.length > 0) return Promise.resolve(items.shift());
      if (closed) return Promise.resolve(undefined);
      return new Promise((resolve) => waiting.push(resolve));
    },
  };
}
