/**
 * Runs `round` at once and then `pollMs` after each round ends, never two at a time, until
 * stopped. A round that throws is reported to `onError` and the loop goes on: background
 * work (alerts, deliveries, publishing) retries on its next round.
 */
export function startPollingLoop(round: () => Promise<unknown>, pollMs: number, onError: (error: unknown) => void) {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> = Promise.resolve();
  const tick = () => {
    running = round()
      .catch(onError)
      .finally(() => {
        if (!stopped) timer = setTimeout(tick, pollMs);
      });
  };
  timer = setTimeout(tick, 0);
  return {
    /** Resolves once the round in progress, if any, has ended. */
    async stop(): Promise<void> {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
