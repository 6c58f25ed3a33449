import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Database } from '../../db/connection.ts';
import { acquireLease, findAbandoned, findDue, findNeedingRescue } from '../../db/payments-repo.ts';
import type { Sql } from '../../db/sql.ts';
import { PAYMENT_MACHINE_VERSION, paymentMachine, type PaymentEvent } from '../../machines/payment.machine.ts';
import { createOpsStore } from '../../src/ops-store.ts';
import { createPaymentActors } from '../../src/payments/payment-actors.ts';
import { OrderCache } from '../../src/payments/order-cache.ts';
import { PaymentHost } from '../../src/payments/payment-host.ts';
import { createReconciler } from '../../src/payments/reconciler.ts';
import { startScheduler } from '../../src/payments/scheduler.ts';
import { createPgClient } from '../../src/pg/pg-client.ts';
import { holdWriteLock, useTempDatabase } from '../support/temp-database.ts';
import { testDialect } from '../support/test-database.ts';

const NOW = 1_700_000_000_000;
const OWNER = 'instance-a';
const OTHER = 'instance-b';
/** A lease that is still running at NOW. */
const LIVE_LEASE = NOW + 60_000;
const EXPIRED_LEASE = NOW - 1;
const silent = pino({ level: 'silent' });
/** PostgreSQL's answer to a write that waited its lock_timeout out. */
const LOCK_NOT_AVAILABLE = '55P03';

// ---- a database of the run's dialect per test, payment rows written with plain SQL ----

const database = useTempDatabase('scheduling');
let db: Database;

beforeEach(async () => {
  db = await database.connect();
});

interface PaymentRowSpec {
  /** null: not waiting for a timer. */
  dueAt?: number | null;
  /** 1: a step runs. */
  active?: 0 | 1;
  leaseOwner?: string | null;
  leaseExpiresAt?: number | null;
  machineVersion?: number;
  updatedAt?: number;
}

/** A payment row with only the scheduling columns chosen; by default resting, unleased, of this machine version. */
function insertRow(tx: Sql, id: string, spec: PaymentRowSpec): Promise<number> {
  return tx.run(
    `insert into payments (id, idempotency_key, request_fingerprint, customer_id, partner_id, amount, currency, items,
       order_name, billing_key, state, status, snapshot, machine_version, due_at, active, lease_owner, lease_expires_at,
       created_at, updated_at)
     values (@id, @key, 'fp', 'c-1', 'partner-1', 15000, 'KRW', '[]', 'order', 'bk_test_ok', 'waiting', 'processing', '{}',
       @machineVersion, @dueAt, @active, @leaseOwner, @leaseExpiresAt, @createdAt, @updatedAt)`,
    {
      id,
      key: `key-${id}`,
      machineVersion: spec.machineVersion ?? PAYMENT_MACHINE_VERSION,
      dueAt: spec.dueAt ?? null,
      active: spec.active ?? 0,
      leaseOwner: spec.leaseOwner ?? null,
      leaseExpiresAt: spec.leaseExpiresAt ?? (spec.leaseOwner ? LIVE_LEASE : null),
      createdAt: NOW - 3_600_000,
      updatedAt: spec.updatedAt ?? NOW - 60_000,
    },
  );
}

const insertMany = (count: number, idOf: (i: number) => string, specOf: (i: number) => PaymentRowSpec) =>
  db.commit.run(async (tx) => {
    for (let i = 0; i < count; i++) await insertRow(tx, idOf(i), specOf(i));
  });

const insertPayment = (id: string, spec: PaymentRowSpec = {}) => db.commit.run((tx) => insertRow(tx, id, spec));

const due = (limit = 500, now = NOW) => findDue(db.read, { now, owner: OWNER, machineVersion: PAYMENT_MACHINE_VERSION, limit });
const rescueIds = async (limit = 500) =>
  (await findNeedingRescue(db.read, { now: NOW, owner: OWNER, machineVersion: PAYMENT_MACHINE_VERSION, limit })).map((r) => r.id);

// ---- a fake host that records what the scheduler and the reconciler ask of it ----

interface FakeHost {
  host: PaymentHost;
  live: Set<string>;
  resumed: string[][];
  sent: Array<[string, PaymentEvent]>;
  restarted: string[];
  /** Resolves with the ids of the next `resumeMany` call that `accept` takes (any call by default). */
  nextResume(accept?: (ids: string[]) => boolean): Promise<string[]>;
}

/**
 * `live`: payments in memory from the start. `resumeMany` brings every id into memory
 * except those in `cannotWake` (a snapshot that fails to load), or rejects with `failWith`.
 */
function fakeHost({ live = [], cannotWake = [], failWith }: { live?: string[]; cannotWake?: string[]; failWith?: Error } = {}): FakeHost {
  const waiters: Array<{ accept: (ids: string[]) => boolean; resolve: (ids: string[]) => void }> = [];
  const fake: Omit<FakeHost, 'host'> = {
    live: new Set(live),
    resumed: [],
    sent: [],
    restarted: [],
    nextResume: (accept = () => true) => new Promise((resolve) => waiters.push({ accept, resolve })),
  };
  const host: Pick<PaymentHost, 'resumeMany' | 'isLive' | 'send' | 'offer' | 'restart'> = {
    async resumeMany(ids, wake) {
      fake.resumed.push([...ids]);
      for (const waiter of waiters.splice(0)) {
        if (waiter.accept(ids)) waiter.resolve(ids);
        else waiters.push(waiter);
      }
      if (failWith) throw failWith;
      const woken = ids.filter((id) => !fake.live.has(id) && !cannotWake.includes(id));
      for (const id of woken) fake.live.add(id);
      // As the host does: the wake goes to every one of them running here now.
      if (wake) for (const id of ids) if (fake.live.has(id)) fake.sent.push([id, wake]);
      return woken.length;
    },
    isLive: (id) => fake.live.has(id),
    async send(id, event) {
      fake.sent.push([id, event]);
      return true;
    },
    async offer(id, event) {
      fake.sent.push([id, event]);
      return 'accepted';
    },
    async restart(id) {
      fake.restarted.push(id);
      return true;
    },
  };
  return { ...fake, host: host as PaymentHost };
}

const TIMER_DUE: PaymentEvent = { type: 'timer.due' };

// ---- the repository queries ----

describe('findDue', () => {
  it('finds the payment it may take behind 600 earlier ones another live owner holds and 600 of a newer machine version', async () => {
    await insertMany(600, (i) => `pay_held_${i}`, (i) => ({ dueAt: NOW - 100_000 + i, leaseOwner: OTHER, leaseExpiresAt: LIVE_LEASE }));
    await insertMany(600, (i) => `pay_new_${i}`, (i) => ({ dueAt: NOW - 100_000 + i, machineVersion: PAYMENT_MACHINE_VERSION + 1 }));
    await insertPayment('pay_mine', { dueAt: NOW - 1 });

    expect(await due(500)).toEqual(['pay_mine']);
  });

  it('takes payments of an older machine version, which the host upgrades', async () => {
    await insertPayment('pay_old', { dueAt: NOW - 2, machineVersion: PAYMENT_MACHINE_VERSION - 1 });
    await insertPayment('pay_current', { dueAt: NOW - 1 });

    expect(await due(10)).toEqual(['pay_old', 'pay_current']);
  });

  it('takes due payments whose lease is free, expired or its own', async () => {
    await insertPayment('pay_free', { dueAt: NOW - 4 });
    await insertPayment('pay_expired', { dueAt: NOW - 3, leaseOwner: OTHER, leaseExpiresAt: EXPIRED_LEASE });
    await insertPayment('pay_own', { dueAt: NOW - 2, leaseOwner: OWNER, leaseExpiresAt: LIVE_LEASE });
    await insertPayment('pay_held', { dueAt: NOW - 1, leaseOwner: OTHER, leaseExpiresAt: LIVE_LEASE });

    expect(await due()).toEqual(['pay_free', 'pay_expired', 'pay_own']);
  });

  it('agrees with acquireLease on a lease that expires exactly now', async () => {
    await insertPayment('pay_expiring', { dueAt: NOW - 1, leaseOwner: OTHER, leaseExpiresAt: NOW });

    const found = (await due()).includes('pay_expiring');

    expect(found).toBe(await db.commit.run((tx) => acquireLease(tx, 'pay_expiring', OWNER, NOW, 30_000)));
  });

  it('returns the earliest due first', async () => {
    await insertPayment('pay_2', { dueAt: NOW - 200 });
    await insertPayment('pay_3', { dueAt: NOW - 100 });
    await insertPayment('pay_1', { dueAt: NOW - 300 });

    expect(await due()).toEqual(['pay_1', 'pay_2', 'pay_3']);
  });

  it('returns at most `limit` payments, the earliest due', async () => {
    await insertMany(5, (i) => `pay_${i}`, (i) => ({ dueAt: NOW - 1_000 + i }));

    expect(await due(2)).toEqual(['pay_0', 'pay_1']);
  });

  it('ignores payments not yet due and payments not waiting; one due exactly now is due', async () => {
    await insertPayment('pay_later', { dueAt: NOW + 1 });
    await insertPayment('pay_resting', { dueAt: null });
    await insertPayment('pay_running', { dueAt: null, active: 1 });
    await insertPayment('pay_now', { dueAt: NOW });

    expect(await due()).toEqual(['pay_now']);
  });
});

describe('findAbandoned', () => {
  const abandoned = (limit = 500) => findAbandoned(db.read, { now: NOW, owner: OWNER, machineVersion: PAYMENT_MACHINE_VERSION, limit });

  it('finds payments mid-step whose lease ran out in another process, oldest expiry first', async () => {
    await insertPayment('pay_expired', { active: 1, leaseOwner: OTHER, leaseExpiresAt: NOW - 10 });
    await insertPayment('pay_expired_first', { active: 1, leaseOwner: 'instance-c', leaseExpiresAt: NOW - 20 });
    await insertPayment('pay_older_version', { active: 1, leaseOwner: OTHER, leaseExpiresAt: NOW - 5, machineVersion: PAYMENT_MACHINE_VERSION - 1 });

    expect(await abandoned()).toEqual(['pay_expired_first', 'pay_expired', 'pay_older_version']);
    expect(await abandoned(1)).toEqual(['pay_expired_first']);
  });

  it('skips its own, leases still running, one expiring exactly now, resting and waiting payments, and newer machine versions', async () => {
    await insertPayment('pay_own_expired', { active: 1, leaseOwner: OWNER, leaseExpiresAt: EXPIRED_LEASE });
    await insertPayment('pay_live', { active: 1, leaseOwner: OTHER });
    await insertPayment('pay_expiring_now', { active: 1, leaseOwner: OTHER, leaseExpiresAt: NOW });
    await insertPayment('pay_resting', { leaseOwner: OTHER, leaseExpiresAt: EXPIRED_LEASE });
    await insertPayment('pay_waiting', { dueAt: NOW + 1_000, leaseOwner: OTHER, leaseExpiresAt: EXPIRED_LEASE });
    await insertPayment('pay_new_version', { active: 1, leaseOwner: OTHER, leaseExpiresAt: EXPIRED_LEASE, machineVersion: PAYMENT_MACHINE_VERSION + 1 });

    expect(await abandoned()).toEqual([]);
  });

  it('agrees with acquireLease: what it finds can be taken', async () => {
    await insertPayment('pay_other_expired', { active: 1, leaseOwner: OTHER, leaseExpiresAt: EXPIRED_LEASE });

    const [id] = await abandoned();
    expect(await db.commit.run((tx) => acquireLease(tx, id!, OWNER, NOW, 30_000))).toBe(true);
  });
});

describe('findNeedingRescue', () => {
  it('finds active payments whose lease is free, expired or its own', async () => {
    await insertPayment('pay_free', { active: 1, updatedAt: NOW - 30 });
    await insertPayment('pay_expired', { active: 1, leaseOwner: OTHER, leaseExpiresAt: EXPIRED_LEASE, updatedAt: NOW - 20 });
    await insertPayment('pay_own', { active: 1, leaseOwner: OWNER, leaseExpiresAt: LIVE_LEASE, updatedAt: NOW - 10 });

    expect(await rescueIds()).toEqual(['pay_free', 'pay_expired', 'pay_own']);
  });

  it('finds waiting payments whose wait is overdue, not those still waiting', async () => {
    await insertPayment('pay_overdue', { dueAt: NOW - 1 });
    await insertPayment('pay_due_now', { dueAt: NOW, updatedAt: NOW - 1 });
    await insertPayment('pay_waiting', { dueAt: NOW + 1 });

    expect(await rescueIds()).toEqual(['pay_overdue', 'pay_due_now']);
  });

  it('skips resting payments', async () => {
    await insertPayment('pay_resting', { active: 0, dueAt: null });
    await insertPayment('pay_running', { active: 1 });

    expect(await rescueIds()).toEqual(['pay_running']);
  });

  it('skips payments another live owner holds, active or overdue', async () => {
    await insertPayment('pay_held_active', { active: 1, leaseOwner: OTHER, leaseExpiresAt: LIVE_LEASE });
    await insertPayment('pay_held_overdue', { dueAt: NOW - 1, leaseOwner: OTHER, leaseExpiresAt: LIVE_LEASE });
    await insertPayment('pay_free', { active: 1 });

    expect(await rescueIds()).toEqual(['pay_free']);
  });

  it('skips payments of a newer machine version, and takes older ones', async () => {
    await insertPayment('pay_old', { active: 1, machineVersion: PAYMENT_MACHINE_VERSION - 1, updatedAt: NOW - 2 });
    await insertPayment('pay_new', { dueAt: NOW - 1, machineVersion: PAYMENT_MACHINE_VERSION + 1 });
    await insertPayment('pay_current', { active: 1, updatedAt: NOW - 1 });

    expect(await rescueIds()).toEqual(['pay_old', 'pay_current']);
  });

  it('returns the payments unchanged longest first, at most `limit`', async () => {
    await insertPayment('pay_b', { active: 1, updatedAt: NOW - 2_000 });
    await insertPayment('pay_c', { dueAt: NOW - 1, updatedAt: NOW - 1_000 });
    await insertPayment('pay_a', { active: 1, updatedAt: NOW - 3_000 });

    expect(await rescueIds()).toEqual(['pay_a', 'pay_b', 'pay_c']);
    expect(await rescueIds(2)).toEqual(['pay_a', 'pay_b']);
  });

  it('returns the due time and last change with each id', async () => {
    await insertPayment('pay_overdue', { dueAt: NOW - 5, updatedAt: NOW - 50 });

    expect(await findNeedingRescue(db.read, { now: NOW, owner: OWNER, machineVersion: PAYMENT_MACHINE_VERSION, limit: 10 })).toEqual([
      { id: 'pay_overdue', dueAt: NOW - 5, updatedAt: NOW - 50 },
    ]);
  });
});

// ---- the real payment host ----

describe('PaymentHost.resumeMany', () => {
  /** A host as src/service.ts builds it, on a database whose writes wait at most 50 ms for another connection's lock. */
  async function startHost() {
    const hostDb = await database.connect(50);
    // No step runs in these tests: the client never connects.
    const pg = createPgClient({
      baseUrl: 'http://127.0.0.1:9',
      secret: 'unused',
      storeId: 'unused',
      timeoutMs: 1_000,
      connections: 1,
      queueTimeoutMs: 1_000,
      logger: silent,
    });
    const clock = () => NOW;
    const orders = new OrderCache(hostDb.read);
    const machine = paymentMachine.provide({
      actors: createPaymentActors({ db: hostDb, pg, clock, logger: silent, owner: OWNER, orders }),
    });
    const host = new PaymentHost({
      db: hostDb,
      machine,
      clock,
      logger: silent,
      ops: createOpsStore(),
      owner: OWNER,
      leaseTtlMs: 30_000,
      orders,
      readSnapshot: (json) => JSON.parse(json),
    });
    return { host, close: () => Promise.all([host.stop(), pg.close()]) };
  }

  /** Another connection holds the payments' write lock for as long as the test runs. */
  const holdPaymentsLock = async () => holdWriteLock(await database.session(), ['payments']);

  // On PostgreSQL a transaction takes no lock before its first statement: an empty one
  // would go unnoticed under the lock, so there is nothing to tell apart there.
  it.skipIf(testDialect === 'postgres')('returns 0 for an empty list without opening a transaction', async () => {
    const { host, close } = await startHost();
    const release = await holdPaymentsLock();

    expect(await host.resumeMany([])).toBe(0);

    await release();
    await close();
  });

  // The control for the test above: under the same lock, a transaction is noticed.
  it('fails busy for a non-empty list while another connection holds the write lock', async () => {
    await insertPayment('pay_due', { dueAt: NOW - 1 });
    const { host, close } = await startHost();
    const release = await holdPaymentsLock();

    await expect(host.resumeMany(['pay_due'])).rejects.toThrow(
      expect.objectContaining({ code: testDialect === 'sqlite' ? 'SQLITE_BUSY' : LOCK_NOT_AVAILABLE }),
    );

    await release();
    await close();
  });
});

// ---- the scheduler ----

describe('startScheduler', () => {
  const stops: Array<() => Promise<void>> = [];
  afterEach(async () => {
    await Promise.all(stops.splice(0).map((stop) => stop()));
  });

  function schedule(host: PaymentHost, options: { clock?: () => number; logger?: typeof silent; batchSize?: number } = {}) {
    const scheduler = startScheduler({
      db,
      host,
      clock: options.clock ?? (() => NOW),
      owner: OWNER,
      intervalMs: 5,
      logger: options.logger ?? silent,
      batchSize: options.batchSize,
    });
    stops.push(() => scheduler.stop());
    return scheduler;
  }

  it('resumes exactly the due payments it may take, earliest first, and sends timer.due to those now live', async () => {
    await insertPayment('pay_free', { dueAt: NOW - 300 });
    await insertPayment('pay_own_live', { dueAt: NOW - 200, leaseOwner: OWNER });
    await insertPayment('pay_unloadable', { dueAt: NOW - 100 });
    await insertPayment('pay_held', { dueAt: NOW - 400, leaseOwner: OTHER });
    await insertPayment('pay_new_version', { dueAt: NOW - 400, machineVersion: PAYMENT_MACHINE_VERSION + 1 });
    await insertPayment('pay_later', { dueAt: NOW + 1 });
    const fake = fakeHost({ live: ['pay_own_live'], cannotWake: ['pay_unloadable'] });
    const firstTick = fake.nextResume();

    const scheduler = schedule(fake.host);

    expect(await firstTick).toEqual(['pay_free', 'pay_own_live', 'pay_unloadable']);
    // The tick sends after resumeMany resolves: let it finish.
    await scheduler.stop();
    expect(fake.sent).toEqual([
      ['pay_free', TIMER_DUE],
      ['pay_own_live', TIMER_DUE],
    ]);
  });

  it('takes over payments mid-step whose lease ran out, without a timer.due (their step starts again)', async () => {
    await insertPayment('pay_abandoned', { active: 1, leaseOwner: OTHER, leaseExpiresAt: EXPIRED_LEASE });
    await insertPayment('pay_held', { active: 1, leaseOwner: OTHER });
    const fake = fakeHost();
    const takenOver = fake.nextResume((ids) => ids.length > 0);

    const scheduler = schedule(fake.host);

    expect(await takenOver).toEqual(['pay_abandoned']);
    await scheduler.stop();
    expect(fake.sent).toEqual([]);
    expect(fake.live).toEqual(new Set(['pay_abandoned']));
  });

  it('wakes at most batchSize payments per tick', async () => {
    await insertMany(5, (i) => `pay_${i}`, (i) => ({ dueAt: NOW - 1_000 + i }));
    const fake = fakeHost();
    const firstTick = fake.nextResume();

    const scheduler = schedule(fake.host, { batchSize: 2 });

    expect(await firstTick).toEqual(['pay_0', 'pay_1']);
    await scheduler.stop();
    expect(fake.sent.map(([id]) => id)).toEqual(['pay_0', 'pay_1']);
  });

  it('sends nothing when nothing is due', async () => {
    await insertPayment('pay_later', { dueAt: NOW + 1 });
    await insertPayment('pay_held', { dueAt: NOW - 1, leaseOwner: OTHER });
    const fake = fakeHost();
    // The clock is read once per tick, at its start; stopping waits for the tick under way to finish.
    let tickStarted!: () => void;
    const firstTick = new Promise<void>((resolve) => (tickStarted = resolve));

    const scheduler = schedule(fake.host, {
      clock: () => {
        tickStarted();
        return NOW;
      },
    });
    await firstTick;
    await scheduler.stop();

    expect(fake.resumed.flat()).toEqual([]);
    expect(fake.sent).toEqual([]);
  });

  it('keeps polling: a payment whose wait ends later is woken on a later tick', async () => {
    await insertPayment('pay_later', { dueAt: NOW + 1_000 });
    let now = NOW;
    const fake = fakeHost();
    const firstTick = fake.nextResume();
    const wokenLater = fake.nextResume((ids) => ids.length > 0);

    const scheduler = schedule(fake.host, { clock: () => now });
    expect(await firstTick).toEqual([]);
    now = NOW + 1_000;

    expect(await wokenLater).toEqual(['pay_later']);
    await scheduler.stop();
    expect(fake.sent).toEqual([['pay_later', TIMER_DUE]]);
  });

  it('logs a failed tick and polls again', async () => {
    await insertPayment('pay_due', { dueAt: NOW - 1 });
    const logged: Array<{ msg: string; err?: { message: string } }> = [];
    const logger = pino({ level: 'error' }, { write: (line: string) => logged.push(JSON.parse(line)) });
    const fake = fakeHost({ failWith: new Error('database is locked') });
    const secondTick = fake.nextResume(() => fake.resumed.length >= 2);

    schedule(fake.host, { logger });

    expect(await secondTick).toEqual(['pay_due']);
    expect(logged[0]).toMatchObject({ msg: 'scheduler tick failed', err: { message: 'database is locked' } });
    expect(fake.sent).toEqual([]);
  });
});

// ---- the reconciler ----

describe('createReconciler().runPass', () => {
  const STUCK_AFTER_MS = 30_000;

  function reconcile(host: PaymentHost, now = NOW) {
    return reconciler(host, now).runPass();
  }

  function reconciler(host: PaymentHost, now = NOW) {
    return createReconciler({
      db,
      host,
      clock: () => now,
      owner: OWNER,
      stuckAfterMs: STUCK_AFTER_MS,
      cron: '0 0 1 1 *',
      batchSize: 100,
      logger: silent,
    });
  }

  const insertLock = (owner: string, expiresAt: number) =>
    db.commit.run((tx) => tx.run(`insert into locks (name, owner, expires_at) values ('reconciler', @owner, @expiresAt)`, { owner, expiresAt }));
  const lockRow = () => db.read.get(`select owner, expires_at as "expiresAt" from locks where name = 'reconciler'`);

  /** One payment of each kind the reconciler tells apart. */
  async function insertOneOfEach(): Promise<void> {
    await insertPayment('pay_overdue', { dueAt: NOW - 1_000, updatedAt: NOW - 60_000 });
    await insertPayment('pay_orphaned', { active: 1, leaseOwner: OTHER, leaseExpiresAt: EXPIRED_LEASE, updatedAt: NOW - 100 });
    await insertPayment('pay_stuck', { active: 1, leaseOwner: OWNER, updatedAt: NOW - STUCK_AFTER_MS - 1 });
    await insertPayment('pay_busy', { active: 1, leaseOwner: OWNER, updatedAt: NOW - 10 });
  }

  it('sends timer.due to an overdue waiting payment', async () => {
    await insertPayment('pay_overdue', { dueAt: NOW - 1_000 });
    const fake = fakeHost();

    expect(await reconcile(fake.host)).toEqual({ scanned: 1, resumed: 1 });
    expect(fake.sent).toEqual([['pay_overdue', TIMER_DUE]]);
    expect(fake.restarted).toEqual([]);
  });

  it('resumes an active payment that is not live here', async () => {
    await insertPayment('pay_orphaned', { active: 1, leaseOwner: OTHER, leaseExpiresAt: EXPIRED_LEASE });
    const fake = fakeHost();

    expect(await reconcile(fake.host)).toEqual({ scanned: 1, resumed: 1 });
    expect(fake.resumed).toEqual([['pay_orphaned']]);
    expect(fake.sent).toEqual([]);
    expect(fake.restarted).toEqual([]);
  });

  it('restarts an active payment live here and unchanged for longer than stuckAfterMs', async () => {
    await insertPayment('pay_stuck', { active: 1, leaseOwner: OWNER, updatedAt: NOW - STUCK_AFTER_MS - 1 });
    const fake = fakeHost({ live: ['pay_stuck'] });

    expect(await reconcile(fake.host)).toEqual({ scanned: 1, resumed: 1 });
    expect(fake.restarted).toEqual(['pay_stuck']);
    expect(fake.resumed.flat()).toEqual([]);
    expect(fake.sent).toEqual([]);
  });

  it('leaves alone an active payment live here and changed recently', async () => {
    await insertPayment('pay_busy', { active: 1, leaseOwner: OWNER, updatedAt: NOW - STUCK_AFTER_MS + 1 });
    const fake = fakeHost({ live: ['pay_busy'] });

    expect(await reconcile(fake.host)).toEqual({ scanned: 1, resumed: 0 });
    expect(fake.restarted).toEqual([]);
    expect(fake.resumed.flat()).toEqual([]);
    expect(fake.sent).toEqual([]);
  });

  it('treats each payment of a mixed batch by its kind in one pass', async () => {
    await insertOneOfEach();
    await insertPayment('pay_overdue_too', { dueAt: NOW - 500, updatedAt: NOW - 50_000 });
    const fake = fakeHost({ live: ['pay_stuck', 'pay_busy'] });

    expect(await reconcile(fake.host)).toEqual({ scanned: 5, resumed: 4 });
    // The overdue ones woken together, the asleep ones together: one lease statement each.
    expect(fake.resumed).toEqual([['pay_overdue', 'pay_overdue_too'], ['pay_orphaned']]);
    expect(fake.sent).toEqual([
      ['pay_overdue', TIMER_DUE],
      ['pay_overdue_too', TIMER_DUE],
    ]);
    expect(fake.restarted).toEqual(['pay_stuck']);
  });

  it('takes back at start-up what this owner id was driving, even while another owner holds the lock', async () => {
    await insertPayment('pay_mine_mid_step', { active: 1, leaseOwner: OWNER, leaseExpiresAt: NOW + 20_000, updatedAt: NOW - 200 });
    await insertPayment('pay_mine_due', { dueAt: NOW - 1_000, leaseOwner: OWNER, leaseExpiresAt: NOW + 20_000, updatedAt: NOW - 100 });
    await insertPayment('pay_mine_waiting', { dueAt: NOW + 60_000, leaseOwner: OWNER, leaseExpiresAt: NOW + 20_000 });
    await insertPayment('pay_theirs', { active: 1, leaseOwner: OTHER, leaseExpiresAt: NOW + 20_000 });
    await insertPayment('pay_orphaned', { active: 1, leaseOwner: OTHER, leaseExpiresAt: EXPIRED_LEASE });
    await insertLock(OTHER, NOW + 60_000);
    const fake = fakeHost();

    expect(await reconciler(fake.host).resumeOwn()).toBe(2);
    expect(fake.resumed).toEqual([['pay_mine_mid_step', 'pay_mine_due']]);
  });

  it('does nothing while another owner holds the reconciler lock', async () => {
    await insertOneOfEach();
    await insertLock(OTHER, NOW + 60_000);
    const fake = fakeHost({ live: ['pay_stuck', 'pay_busy'] });

    expect(await reconcile(fake.host)).toEqual({ scanned: 0, resumed: 0 });
    expect(fake.resumed.flat()).toEqual([]);
    expect(fake.sent).toEqual([]);
    expect(fake.restarted).toEqual([]);
    expect(await lockRow()).toEqual({ owner: OTHER, expiresAt: NOW + 60_000 });
  });

  it('runs once the other owner’s lock has expired', async () => {
    await insertPayment('pay_overdue', { dueAt: NOW - 1_000 });
    await insertLock(OTHER, NOW - 1);
    const fake = fakeHost();

    expect(await reconcile(fake.host)).toEqual({ scanned: 1, resumed: 1 });
    expect(fake.sent).toEqual([['pay_overdue', TIMER_DUE]]);
  });

  it('releases the lock after its pass, so another owner may run the next one', async () => {
    await insertPayment('pay_overdue', { dueAt: NOW - 1_000 });

    await reconcile(fakeHost().host);

    expect(await lockRow()).toEqual({ owner: OWNER, expiresAt: 0 });
  });
});
