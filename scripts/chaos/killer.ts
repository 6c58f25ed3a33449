import { setTimeout as sleep } from 'node:timers/promises';

export interface KillerOptions {
  everyMs: number;
  /** Undefined: until stopped. */
  maxKills: number | undefined;
  /** SIGKILLs the service and starts it again. */
  restart(): Promise<void>;
  onKill(): void;
}

export interface Killer {
  /** Rejects if a restart failed: the run cannot go on without a service. */
  failed: Promise<never>;
  /** Stops after the restart in progress, if any. */
  stop(): Promise<void>;
}

export function startKiller({ everyMs, maxKills = Infinity, restart, onKill }: KillerOptions): Killer {
  const stopping = new AbortController();
  const loop = (async () => {
    for (let kills = 0; kills < maxKills; kills++) {
      const slept = await sleep(everyMs, true, { signal: stopping.signal }).catch(() => false);
      if (!slept) return;
      await restart();
      onKill();
    }
  })();
  return {
    failed: loop.then(() => new Promise<never>(() => {})),
    async stop() {
      stopping.abort();
      await loop;
    },
  };
}
