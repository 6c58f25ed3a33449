import { setTimeout as sleep } from 'node:timers/promises';
import { seededRandom } from '../../src/seeded-random.ts';

export interface KillerOptions {
  everyMs: number;
  /** Undefined: until stopped. */
  maxKills: number | undefined;
  /** The first this many kills are not followed by a restart. */
  forGood: number;
  /** Chooses which process each kill hits. */
  seed: number;
  /** SIGKILLs a process chosen by `random`, and starts it again unless `forGood`; resolves with its INSTANCE_ID. */
  killOne(random: () => number, forGood: boolean): Promise<string>;
  onKill(instanceId: string, forGood: boolean): void;
}

export interface Killer {
  /** Rejects if a restart failed: the run cannot go on without its processes. */
  failed: Promise<never>;
  /** Stops after the kill and restart in progress, if any. */
  stop(): Promise<void>;
}

export function startKiller({ everyMs, maxKills = Infinity, forGood, seed, killOne, onKill }: KillerOptions): Killer {
  const stopping = new AbortController();
  const random = seededRandom(seed ^ 0x6b111);
  const loop = (async () => {
    for (let kills = 0; kills < maxKills; kills++) {
      const slept = await sleep(everyMs, true, { signal: stopping.signal }).catch(() => false);
      if (!slept) return;
      const forever = kills < forGood;
      onKill(await killOne(random, forever), forever);
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
