import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { claimAlerts, insertAlert } from '../../db/attention-repo.ts';
import type { Database } from '../../db/connection.ts';
import { appendPaymentEvent, listPaymentEvents } from '../../db/events-repo.ts';
import { acquireLeases } from '../../db/payments-repo.ts';
import { openPostgres, postgresSql } from '../../db/postgres.ts';
import { reserveStock } from '../../db/stock-repo.ts';
import type { Sql, Tx } from '../../db/sql.ts';
import { claimReceipt } from '../../db/webhook-receipts-repo.ts';
import { claimDeliveries, fanOut, insertWebhookEndpoint } from '../../db/webhooks-repo.ts';
import { insertPaymentRow } from '../support/payment-rows.ts';
import { newPostgresDatabase } from '../support/test-database.ts';

// Several processes taking work from one PostgreSQL: a row another process's transaction
// is taking right now is passed over, not waited for (FOR UPDATE SKIP LOCKED), so the
// takers split the work instead of queueing behind each other's row locks; events that
// commit out of order are all handed out, one fan-out at a time; and batches that change
// the same products' stock queue instead of deadlocking.

const NOW = 1_000_000;
let url: string;
let db: Database;
/** Another process, in the middle of a transaction that holds row locks. */
let other: pg.Client;

beforeEach(async () => {
  url = await newPostgresDatabase();
  db = await openPostgres(url, { poolSize: 2 });
  other = new pg.Client({ connectionString: url });
  await other.connect();
  // Fail fast instead of hanging the test: a claim that waited for the lock would time out.
  await db.commit.run((tx) => tx.run("set lock_timeout = '2s'"));
});
afterEach(async () => {
  await other.end();
  await db.close();
});

const addEndpoint = (q: Sql) =>
  insertWebhookEndpoint(q, { id: 'we_1', url: 'http://127.0.0.1:1/hooks', events: '["*"]', description: null, secret: 's', createdAt: NOW });
const appendEvent = (q: Tx, paymentId: string) =>
  appendPaymentEvent(q, { id: `evt_${paymentId}`, paymentId, type: 'payment.created', occurredAt: NOW, data: '{}' });
type Job = (tx: Tx) => Promise<unknown>;
/** The feed's event ids, in feed order. */
const feedIds = async () => (await listPaymentEvents(db.read, { after: 0, limit: 100 })).map((event) => event.id);

/** `other` locks the rows as its own claim would, and keeps its transaction open. */
async function otherTakes(table: string, ids: Array<string | number>): Promise<void> {
  await other.query('begin');
  await other.query(`select id from ${table} where id = any($1) for update`, [ids]);
}

describe('several processes on one PostgreSQL', () => {
  it('leases the payments nobody is taking and passes over one another process is leasing', async () => {
    await db.commit.run(async (tx) => {
      for (const id of ['pay_a', 'pay_b', 'pay_c']) await insertPaymentRow(tx, id, 'charging');
    });
    await otherTakes('payments', ['pay_b']);

    const leased = await db.commit.run((tx) => acquireLeases(tx, ['pay_a', 'pay_b', 'pay_c'], 'me', NOW, 30_000));

    expect(leased.sort()).toEqual(['pay_a', 'pay_c']);
    await other.query('rollback');
    expect(await db.commit.run((tx) => acquireLeases(tx, ['pay_b'], 'me', NOW, 30_000))).toEqual(['pay_b']);
  });

  it('claims the deliveries nobody is claiming and passes over one another process is claiming', async () => {
    await db.commit.run(async (tx) => {
      await addEndpoint(tx);
      for (const paymentId of ['pay_a', 'pay_b']) await appendEvent(tx, paymentId);
    });
    const ids = await db.commit.run(async (tx) => {
      await fanOut(tx, 500, NOW);
      return (await tx.all<{ id: number }>('select id from webhook_deliveries order by id')).map((row) => row.id);
    });
    const [first, second] = ids as [number, number];
    await otherTakes('webhook_deliveries', [first]);

    expect(await db.commit.run((tx) => claimDeliveries(tx, [first, second], 'me', NOW, 10_000))).toEqual([second]);
  });

  it('claims the alerts nobody is claiming and passes over one another process is claiming', async () => {
    const ids = await db.commit.run(async (tx) => {
      for (const title of ['first', 'second']) await insertAlert(tx, { paymentId: null, severity: 'warning', title, details: {}, at: NOW });
      return (await tx.all<{ id: number }>('select id from alerts order by id')).map((row) => row.id);
    });
    const [first, second] = ids as [number, number];
    await otherTakes('alerts', [first]);

    expect(await db.commit.run((tx) => claimAlerts(tx, [first, second], NOW, 30_000))).toEqual([second]);
  });

  it('hands out an event that commits after a later one, which a position cursor would pass over', async () => {
    await db.commit.run(addEndpoint);
    // Another process writes an event and has not committed it yet: its position is taken.
    await other.query('begin');
    await other.query(`insert into payment_events (id, payment_id, sequence, type, occurred_at, data)
      values ('evt_pay_late', 'pay_late', 1, 'payment.created', $1, '{}')`, [NOW]);
    await db.commit.run((tx) => appendEvent(tx, 'pay_early'));

    expect(await db.commit.run((tx) => fanOut(tx, 500, NOW))).toBe(1);
    await other.query('commit');
    expect(await db.commit.run((tx) => fanOut(tx, 500, NOW))).toBe(1);

    expect(await feedIds()).toEqual(['evt_pay_early', 'evt_pay_late']);
    const delivered = await db.read.all<{ eventId: string }>('select event_id as "eventId" from webhook_deliveries order by id');
    expect(delivered.map((row) => row.eventId)).toEqual(['evt_pay_early', 'evt_pay_late']);
  });

  it('fans out in one process at a time: a round while another process fans out does nothing', async () => {
    await db.commit.run(async (tx) => {
      await addEndpoint(tx);
      await appendEvent(tx, 'pay_a');
    });
    await other.query('begin');
    const theirs = postgresSql(() => other);
    expect(await fanOut(theirs, 500, NOW)).toBe(1);

    await db.commit.run((tx) => appendEvent(tx, 'pay_b'));
    expect(await db.commit.run((tx) => fanOut(tx, 500, NOW))).toBe(0);
    await other.query('commit');
    expect(await db.commit.run((tx) => fanOut(tx, 500, NOW))).toBe(1);
    expect(await feedIds()).toEqual(['evt_pay_a', 'evt_pay_b']);
  });

  /**
   * Two processes' batches of two jobs each: each does its first job, waits (a second at
   * most) until the other has done its own, then does its second. Returns how often each
   * batch ran: a deadlock fails a statement and the group commit runs that batch again, so
   * a count above 1 is a deadlock, even though the batch then commits.
   */
  async function interleave(batches: Array<[Database, Job, Job]>) {
    let bothStarted: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (bothStarted = resolve));
    let started = 0;
    const runs = batches.map(() => 0);
    const outcomes = await Promise.allSettled(
      batches.map(([process, first, then], i) =>
        Promise.all([
          process.commit.run(async (tx) => {
            runs[i]!++;
            const value = await first(tx);
            if (++started === 2) bothStarted();
            await Promise.race([gate, new Promise((resolve) => setTimeout(resolve, 1_000))]);
            return value;
          }),
          process.commit.run(then),
        ]),
      ),
    );
    return { outcomes, runs };
  }

  const reserve = (paymentId: string, productId: string): Job => (tx) => reserveStock(tx, { paymentId, owner: 'me' }, [{ productId, quantity: 1 }], NOW);

  async function setUpStock(products: string[], payments: string[]): Promise<void> {
    await db.commit.run(async (tx) => {
      for (const id of products) {
        await tx.run(`insert into products (id, name, price, stock, total_stock, partner_id, created_at) values (@id, @id, 1000, 10, 10, 'p', 0)`, { id });
      }
      for (const id of payments) await insertPaymentRow(tx, id, 'reserving', { leaseOwner: 'me', leaseExpiresAt: NOW + 30_000 });
    });
  }

  it('lets two processes\' batches reserve the same products in opposite orders without a deadlock', async () => {
    const second = await openPostgres(url, { poolSize: 2 });
    try {
      await setUpStock(['x', 'y'], ['pay_a_1', 'pay_a_2', 'pay_b_1', 'pay_b_2']);

      const { outcomes, runs } = await interleave([
        [db, reserve('pay_a_1', 'x'), reserve('pay_a_2', 'y')],
        [second, reserve('pay_b_1', 'y'), reserve('pay_b_2', 'x')],
      ]);

      expect(outcomes.map((outcome) => outcome.status)).toEqual(['fulfilled', 'fulfilled']);
      expect(runs).toEqual([1, 1]);
      const stock = await db.read.all<{ id: string; stock: number }>('select id, stock from products order by id');
      expect(stock).toEqual([
        { id: 'x', stock: 8 },
        { id: 'y', stock: 8 },
      ]);
    } finally {
      await second.close();
    }
  });

  it('lets two processes\' batches claim one PG webhook and change stock in opposite orders without a deadlock', async () => {
    const second = await openPostgres(url, { poolSize: 2 });
    try {
      await setUpStock(['x'], ['pay_a', 'pay_b']);
      const claim: Job = (tx) => claimReceipt(tx, { id: 'wh_1', type: 'Transaction.Paid', paymentId: null, now: NOW, claimMs: 30_000 });

      const { outcomes, runs } = await interleave([
        [db, claim, reserve('pay_a', 'x')],
        [second, reserve('pay_b', 'x'), claim],
      ]);

      expect(outcomes.map((outcome) => outcome.status)).toEqual(['fulfilled', 'fulfilled']);
      expect(runs).toEqual([1, 1]);
      const [first, then] = outcomes.map((outcome) => (outcome as PromiseFulfilledResult<unknown[]>).value);
      expect([first![0], then![1]].sort()).toEqual(['claimed', 'in_progress']);
      expect((await db.read.get<{ stock: number }>(`select stock from products where id = 'x'`))!.stock).toBe(8);
    } finally {
      await second.close();
    }
  });
});
