import { describe, expect, it } from 'vitest';
import { jsonList } from '../../db/sql.ts';
import type { Proc } from '../../scripts/lib/processes.ts';
import { seededRandom } from '../../src/seeded-random.ts';
import { createProducts, purchaseLoad, useServiceProcesses, waitUntilAtRest } from '../support/service-processes.ts';

const processes = useServiceProcesses('scale-out');

const INSTANCES = ['e2e-scale-a', 'e2e-scale-b', 'e2e-scale-c'];
const PURCHASES = 300;
/** After how many purchases a process is killed: one of these kills (chosen by the seed) is for good. */
const KILL_AFTER = [40, 100, 160, 220];

describe('three service processes on one database', () => {
  it('runs no payment twice while processes die at random, and the others take over the one killed for good', async () => {
    const pg = await processes.startMockPg();
    // All three at once, on a new database: they migrate it once between them.
    // undefined once killed for good; a killed one stays in its slot until it is restarted (its requests fail and are sent again).
    const services: Array<Proc | undefined> = await Promise.all(INSTANCES.map((id) => processes.startService(pg.url, id)));
    await createProducts(services[0]!.url);
    const db = await processes.session();

    const random = seededRandom(14);
    const forGood = Math.floor(random() * KILL_AFTER.length);
    const live = () => services.flatMap((proc, slot) => (proc ? [slot] : []));
    // Round robin; a slot killed for good passes its turn to the next live one.
    const target = (i: number) => services[[0, 1, 2].map((k) => (i + k) % 3).find((slot) => services[slot])!]!.url;
    /** The payments in flight whose lease `instance` holds. */
    const running = async (instance: string) => {
      const rows = await db.all<{ id: string }>(
        `select id from payments where lease_owner = @instance and status in ('processing', 'cancel_requested')`,
        { instance },
      );
      return rows.map((row) => row.id);
    };
    let orphaned: { instance: string; killedAt: number; ids: string[] } | undefined;
    let kills = 0;

    async function killOne(): Promise<void> {
      const slots = live();
      const slot = slots[Math.floor(random() * slots.length)]!;
      const victim = services[slot]!;
      const instance = INSTANCES[slot]!;
      if (kills++ === forGood) {
        // Killed while it runs payments (it may be between two for a moment), so that there is something to take over.
        for (let tries = 0; tries < 150 && (await running(instance)).length < 3; tries++) await new Promise((r) => setTimeout(r, 20));
        services[slot] = undefined;
        await victim.kill('SIGKILL');
        // Only another process can move these on now, once their leases expire.
        orphaned = { instance, killedAt: Date.now(), ids: await running(instance) };
      } else {
        await victim.kill('SIGKILL');
        services[slot] = await processes.startService(pg.url, instance);
      }
    }

    // One kill at a time, each after its share of the load, while the load goes on.
    let killing = Promise.resolve();
    const ids = await purchaseLoad(PURCHASES, target, async (done) => {
      if (KILL_AFTER.includes(done)) killing = killing.then(killOne);
    });
    await killing;
    expect(kills).toBe(KILL_AFTER.length);
    expect(live()).toHaveLength(2);
    expect(new Set(ids.values()).size).toBe(PURCHASES);

    await waitUntilAtRest(() => services.find((proc) => proc)!.url, 90_000);
    const report = await processes.expectNoViolations(pg.url);
    expect(report.payments).toBe(PURCHASES);

    // The transitions carry no process id, but those of the dead one's payments logged after its death are another's.
    const { instance, killedAt, ids: taken } = orphaned!;
    expect(taken.length, `${instance} was running no payment when it was killed`).toBeGreaterThan(0);
    const last = await db.all<{ paymentId: string; at: number | string }>(
      `select payment_id as "paymentId", max(at) as at from payment_transitions where payment_id in ${jsonList(db, 'ids')} group by payment_id`,
      { ids: JSON.stringify(taken) },
    );
    expect(last.filter((row) => Number(row.at) <= killedAt)).toEqual([]);
    expect(last).toHaveLength(taken.length);
  }, 110_000);
});
