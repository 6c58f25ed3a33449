import { afterEach, beforeEach } from 'vitest';
import type { Database } from '../../db/connection.ts';
import { recordMoneyMovement } from '../../db/money-movements-repo.ts';
import { insertPartner } from '../../db/partners-repo.ts';
import { listSettlements, type SettlementRow } from '../../db/settlements-repo.ts';
import { settlementMachine } from '../../machines/settlement.machine.ts';
import { createLogger } from '../../src/logger.ts';
import { createMockPg, type MockPg } from '../../src/mock-pg/mock-pg.ts';
import { createPgClient, type PgClient } from '../../src/pg/pg-client.ts';
import { createSettlementRunner, type SettlementRunner } from '../../src/settlement/settlement-runner.ts';
import { createSettlementSteps } from '../../src/settlement/settlement-steps.ts';
import { startFaultyProxy, type FaultyProxy } from './faulty-proxy.ts';
import { insertPaymentRow } from './payment-rows.ts';
import { useTempDatabase } from './temp-database.ts';

const SECRET = 'settlement-test-secret';
const STORE_ID = 'store-settlement-test';
export const SEOUL = 'Asia/Seoul';
const OWNER = 'settlement-test';
const iso = (ms: number) => new Date(ms).toISOString();

/**
 * A settlement runner on a test database, checking against a real mock PG (through a
 * proxy that can lose requests). Payments and their money movements are written as the
 * payment host would have, at chosen instants, with the PG's books made to match.
 */
export interface SettlementRig {
  db: Database;
  mock: MockPg;
  proxy: FaultyProxy;
  runner: SettlementRunner;
  partner(id: string, feeRateBps: number): Promise<void>;
  /** A payment of `amount` whose charge the PG confirmed at `at` (its books agree). */
  charge(paymentId: string, partnerId: string, amount: number, at: string): Promise<void>;
  /** Money given back at `at`: a refund, or a void of the whole charge. */
  giveBack(paymentId: string, kind: 'refund' | 'void', amount: number, at: string): Promise<void>;
  /** Runs the date (as an operator would) and returns its settlements once the run rests or waits. */
  settle(date: string): Promise<SettlementRow[]>;
  alerts(): Promise<Array<{ severity: string; title: string; paymentId: string | null; details: string }>>;
  close(): Promise<void>;
}

/** `retryBaseMs`: the first retry's delay; a test that must see a run rest as failed makes it longer than `settled()`'s poll. */
interface RigOptions {
  pollMs?: number;
  retryBaseMs?: number;
}

/**
 * A fresh rig on a fresh database for each test of the calling file, closed afterwards;
 * `onStart` hands the test each rig. `restart` replaces the test's rig by one with other options.
 */
export function useSettlementRig(name: string, onStart: (rig: SettlementRig) => void): { restart(options: RigOptions): Promise<void> } {
  const database = useTempDatabase(name);
  let current: SettlementRig | undefined;
  const start = async (options: RigOptions = {}) => {
    current = await startSettlementRig(await database.connect(), options);
    onStart(current);
  };
  beforeEach(() => start());
  afterEach(async () => {
    await current?.close();
    current = undefined;
  });
  return {
    async restart(options) {
      await current?.close();
      await start(options);
    },
  };
}

export async function startSettlementRig(db: Database, { pollMs = 20, retryBaseMs = 10 }: RigOptions = {}): Promise<SettlementRig> {
  const logger = createLogger(process.env.TEST_LOG_LEVEL ?? 'silent', 'settlement-test');
  const mock = createMockPg({ secret: SECRET, storeId: STORE_ID, webhookSecret: 'whsec_c2V0dGxlbWVudC10ZXN0', logger });
  const proxy = await startFaultyProxy(await mock.listen(0, '127.0.0.1'));
  const pg: PgClient = createPgClient({
    baseUrl: proxy.url,
    secret: SECRET,
    storeId: STORE_ID,
    timeoutMs: 2_000,
    connections: 4,
    queueTimeoutMs: 2_000,
    logger,
  });
  const runner = createSettlementRunner({
    db,
    machine: settlementMachine.provide({ actors: createSettlementSteps({ db, pg, clock: Date.now, timeZone: SEOUL, logger, owner: OWNER }) }),
    retry: { baseMs: retryBaseMs, capMs: Math.max(40, retryBaseMs), urgentAfter: 3 },
    clock: Date.now,
    logger,
    owner: OWNER,
    leaseTtlMs: 30_000,
    pollMs,
  });
  const paidAt = new Map<string, number>();
  return {
    db,
    mock,
    proxy,
    runner,
    async partner(id, feeRateBps) {
      await db.commit.run((tx) => insertPartner(tx, { id, name: `Partner ${id}`, feeRateBps, createdAt: 1, updatedAt: 1 }));
    },
    async charge(paymentId, partnerId, amount, at) {
      const ms = Date.parse(at);
      await db.commit.run(async (tx) => {
        await insertPaymentRow(tx, paymentId, 'completed', { partnerId, amount, status: 'completed', createdAt: ms - 1_000 });
        await recordMoneyMovement(tx, { paymentId, kind: 'charge', amount, at: ms });
      });
      mock.editLedger(paymentId, { status: 'PAID', amount, requestedAt: iso(ms - 1_000), paidAt: iso(ms) });
      paidAt.set(paymentId, ms);
    },
    async giveBack(paymentId, kind, amount, at) {
      await db.commit.run((tx) => recordMoneyMovement(tx, { paymentId, kind, amount, at: Date.parse(at) }));
    },
    async settle(date) {
      await runner.request(date);
      await runner.settled(date, 10_000);
      return listSettlements(db.read, { date });
    },
    alerts: () => db.read.all('select severity, title, payment_id as "paymentId", details from alerts order by id'),
    async close() {
      await runner.stop();
      await pg.close();
      await proxy.close();
      await mock.close();
    },
  };
}
