import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Sqlite } from '../../db/connection.ts';
import { checkInvariants, type ViolationKind } from '../../scripts/invariants/check-invariants.ts';
import type { LedgerEntry } from '../../src/mock-pg/mock-pg.ts';
import { useTempDatabase } from '../support/temp-database.ts';

const NOW = 1_700_000_000_000;

interface Item {
  productId: string;
  quantity: number;
  unitPrice: number;
}

function insertProduct(sqlite: Sqlite, id: string, price: number, stock: number, totalStock: number): void {
  sqlite
    .prepare(
      `insert into products (id, name, price, currency, stock, total_stock, partner_id, created_at)
       values (?, ?, ?, 'KRW', ?, ?, 'partner-1', ?)`,
    )
    .run(id, `Product ${id}`, price, stock, totalStock, NOW);
}

function insertPayment(sqlite: Sqlite, id: string, status: string, items: Item[], cancelledAmount = 0): void {
  const amount = items.reduce((sum, item) => sum + item.quantity * item.unitPrice, 0);
  sqlite
    .prepare(
      `insert into payments (id, idempotency_key, request_fingerprint, customer_id, partner_id, amount, cancelled_amount,
         currency, items, order_name, billing_key, state, status, snapshot, machine_version, created_at, updated_at)
       values (?, ?, 'fp', 'c-1', 'partner-1', ?, ?, 'KRW', ?, 'order', 'bk_test_ok', ?, ?, '{}', 1, ?, ?)`,
    )
    .run(id, `key-${id}`, amount, cancelledAmount, JSON.stringify(items), status, status, NOW, NOW);
}

function insertReservation(sqlite: Sqlite, paymentId: string, productId: string, quantity: number, status: 'reserved' | 'released'): void {
  sqlite
    .prepare(
      `insert into stock_reservations (payment_id, product_id, quantity, status, created_at, released_at) values (?, ?, ?, ?, ?, ?)`,
    )
    .run(paymentId, productId, quantity, status, NOW, status === 'released' ? NOW : null);
}

function insertFulfilment(sqlite: Sqlite, paymentId: string): void {
  sqlite.prepare(`insert into fulfilments (payment_id, customer_id, items, created_at) values (?, 'c-1', '[]', ?)`).run(paymentId, NOW);
}

/** What recordAttention writes: the failed step's dead letter and the urgent alert. */
function insertAttention(sqlite: Sqlite, paymentId: string): void {
  insertDeadLetter(sqlite, paymentId, 'payment_step');
  insertAlert(sqlite, paymentId, 'urgent');
}

function insertDeadLetter(sqlite: Sqlite, paymentId: string, kind: 'payment_step' | 'webhook_delivery'): void {
  sqlite
    .prepare(
      `insert into failed_events (kind, payment_id, step, reason, status, created_at, updated_at) values (?, ?, ?, 'retries exhausted', 'open', ?, ?)`,
    )
    .run(kind, paymentId, kind === 'payment_step' ? 'voiding' : 'webhook_delivery', NOW, NOW);
}

function insertAlert(sqlite: Sqlite, paymentId: string, severity: 'warning' | 'urgent'): void {
  sqlite
    .prepare(`insert into alerts (payment_id, severity, title, details, created_at, next_attempt_at) values (?, ?, 'about a payment', '{}', ?, ?)`)
    .run(paymentId, severity, NOW, NOW);
}

/** The payment's transition log (its machine states, in order) and the outbox events numbered 1, 2, 3… */
function insertHistory(sqlite: Sqlite, paymentId: string, states: string[], eventTypes: string[]): void {
  states.forEach((state, i) =>
    sqlite
      .prepare(`insert into payment_transitions (payment_id, seq, type, from_state, to_state, at) values (?, ?, 'x', ?, ?, ?)`)
      .run(paymentId, i + 1, states[i - 1] ?? null, state, NOW),
  );
  eventTypes.forEach((type, i) => insertEvent(sqlite, paymentId, i + 1, type));
}

function insertEvent(sqlite: Sqlite, paymentId: string, sequence: number, type: string): void {
  sqlite
    .prepare(`insert into payment_events (id, payment_id, sequence, type, occurred_at, data) values (?, ?, ?, ?, ?, '{}')`)
    .run(`evt_${paymentId}_${sequence}_${type}`, paymentId, sequence, type, NOW);
}

function insertMovement(sqlite: Sqlite, paymentId: string, kind: 'charge' | 'refund' | 'void', amount: number): void {
  sqlite.prepare(`insert into money_movements (payment_id, kind, amount, at) values (?, ?, ?, ?)`).run(paymentId, kind, amount, NOW);
}

function ledgerEntry(paymentId: string, status: LedgerEntry['status'], amount: number, cancelledAmount = 0): LedgerEntry {
  const charged = status === 'PAID' || status === 'PARTIAL_CANCELLED' || status === 'CANCELLED';
  return {
    paymentId,
    status,
    amount,
    currency: 'KRW',
    paidAmount: charged ? amount : 0,
    cancelledAmount,
    charges: charged ? 1 : 0,
    pgTxId: charged ? `pgtx_${paymentId}` : null,
    cancellations: cancelledAmount ? [{ id: `c-${paymentId}`, amount: cancelledAmount, reason: 'test', cancelledAt: 'now' }] : [],
    requestedAt: 'now',
    updatedAt: 'now',
  };
}

const book = (quantity: number): Item => ({ productId: 'book', quantity, unitPrice: 15_000 });
const seat = (quantity: number): Item => ({ productId: 'seat', quantity, unitPrice: 300_000 });

const RESERVED = 'reserving.reservingStock';
const CHARGED = [RESERVED, 'charging.calling', 'finalizing.fulfilling', 'completed'];

/**
 * A quiesced world in which every rule holds, one payment per resting status, each with the
 * rows the current code writes: its transition log and events, its money movements.
 * book: 10 on sale, 2 + 1 held by completed and partially_cancelled; seat: 3 on sale, 1 held by requires_attention.
 */
function buildConsistentPair(sqlite: Sqlite): LedgerEntry[] {
  insertProduct(sqlite, 'book', 15_000, 7, 10);
  insertProduct(sqlite, 'seat', 300_000, 2, 3);

  insertPayment(sqlite, 'pay_completed', 'completed', [book(2)]);
  insertReservation(sqlite, 'pay_completed', 'book', 2, 'reserved');
  insertFulfilment(sqlite, 'pay_completed');
  insertHistory(sqlite, 'pay_completed', CHARGED, ['payment.created', 'payment.completed']);
  insertMovement(sqlite, 'pay_completed', 'charge', 30_000);

  insertPayment(sqlite, 'pay_partial', 'partially_cancelled', [book(1)], 5_000);
  insertReservation(sqlite, 'pay_partial', 'book', 1, 'reserved');
  insertFulfilment(sqlite, 'pay_partial');
  insertHistory(
    sqlite,
    'pay_partial',
    [...CHARGED, 'cancelling.refunding', 'partially_cancelled'],
    ['payment.created', 'payment.completed', 'payment.cancel_requested', 'payment.partially_cancelled'],
  );
  insertMovement(sqlite, 'pay_partial', 'charge', 15_000);
  insertMovement(sqlite, 'pay_partial', 'refund', 5_000);

  // Paid, then its fulfilment failed for good: the charge was voided and the stock released.
  insertPayment(sqlite, 'pay_cancelled', 'cancelled', [seat(1)], 300_000);
  insertReservation(sqlite, 'pay_cancelled', 'seat', 1, 'released');
  insertHistory(
    sqlite,
    'pay_cancelled',
    [RESERVED, 'charging.calling', 'finalizing.fulfilling', 'compensating.voiding', 'releasing.releasingStock', 'cancelled'],
    ['payment.created', 'payment.cancelled'],
  );
  insertMovement(sqlite, 'pay_cancelled', 'charge', 300_000);
  insertMovement(sqlite, 'pay_cancelled', 'void', 300_000);

  // Declined by the PG: no money moved.
  insertPayment(sqlite, 'pay_failed', 'failed', [book(1)]);
  insertReservation(sqlite, 'pay_failed', 'book', 1, 'released');
  insertHistory(sqlite, 'pay_failed', [RESERVED, 'charging.calling', 'releasing.releasingStock', 'failed.closed'], [
    'payment.created',
    'payment.failed',
  ]);

  insertPayment(sqlite, 'pay_rejected', 'rejected', [seat(5)]);
  insertHistory(sqlite, 'pay_rejected', [RESERVED, 'rejected'], ['payment.created', 'payment.rejected']);

  // Paid, its fulfilment failed and so did the void: the money and the seat wait for an operator.
  insertPayment(sqlite, 'pay_attention', 'requires_attention', [seat(1)]);
  insertReservation(sqlite, 'pay_attention', 'seat', 1, 'reserved');
  insertHistory(
    sqlite,
    'pay_attention',
    [RESERVED, 'charging.calling', 'finalizing.fulfilling', 'compensating.voiding', 'requires_attention'],
    ['payment.created', 'payment.requires_attention'],
  );
  insertMovement(sqlite, 'pay_attention', 'charge', 300_000);
  insertAttention(sqlite, 'pay_attention');

  return [
    ledgerEntry('pay_completed', 'PAID', 30_000),
    ledgerEntry('pay_partial', 'PARTIAL_CANCELLED', 15_000, 5_000),
    ledgerEntry('pay_cancelled', 'CANCELLED', 300_000, 300_000),
    ledgerEntry('pay_failed', 'FAILED', 15_000),
    ledgerEntry('pay_attention', 'PAID', 300_000),
  ];
}

const temp = useTempDatabase('invariants');
let dir: string;
let dbPath: string;
let sqlite: Sqlite;
let ledger: LedgerEntry[];

beforeEach(() => {
  dbPath = temp.path;
  dir = dirname(dbPath);
  temp.open(); // creates the tables
  sqlite = temp.sqlite();
  ledger = buildConsistentPair(sqlite);
});

const run = (sql: string) => sqlite.prepare(sql).run();
const entry = (paymentId: string) => ledger.find((e) => e.paymentId === paymentId)!;
const check = () => checkInvariants(sqlite, ledger);

/** Asserts the corruption is caught, and caught as nothing else. */
function expectOnly(kind: ViolationKind, ids: { paymentId?: string; productId?: string }) {
  const { violations } = check();
  expect(violations.map((v) => v.kind)).toEqual([kind]);
  expect(violations[0]).toMatchObject(ids);
  return violations[0]!.message;
}

/** As expectOnly, for a PG ledger changed under the payment: its money movements then disagree with the PG too. */
function expectWithMoney(kind: ViolationKind, ids: { paymentId: string }) {
  const { violations } = check();
  expect(violations.map((v) => v.kind)).toEqual([kind, 'money_disagrees_with_pg']);
  expect(violations[0]).toMatchObject(ids);
  expect(violations[1]).toMatchObject(ids);
  return violations[0]!.message;
}

describe('checkInvariants', () => {
  it('finds nothing wrong with a consistent database and ledger', () => {
    expect(check()).toEqual({
      violations: [],
      payments: 6,
      products: 2,
      pgPayments: 5,
      byStatus: { completed: 1, partially_cancelled: 1, cancelled: 1, failed: 1, rejected: 1, requires_attention: 1 },
    });
  });

  it('stock_not_conserved: stock that appeared from nowhere', () => {
    run(`update products set stock = 8 where id = 'book'`);
    expect(expectOnly('stock_not_conserved', { productId: 'book' })).toBe('product book: total_stock 10 ≠ stock 8 + reserved 3');
  });

  it('stock_not_conserved: negative stock, even when the sum adds up', () => {
    run(`update products set stock = -1, total_stock = 0 where id = 'seat'`);
    expect(expectOnly('stock_not_conserved', { productId: 'seat' })).toContain('negative stock -1');
  });

  it('reservation_mismatch: a completed payment holding less than it bought', () => {
    run(`update stock_reservations set quantity = 1 where payment_id = 'pay_completed'`);
    run(`update products set stock = 8 where id = 'book'`);
    expect(expectOnly('reservation_mismatch', { paymentId: 'pay_completed' })).toBe(
      'payment pay_completed is completed with items book×2 but holds book×1',
    );
  });

  it('reservation_mismatch: a failed payment still holding stock', () => {
    run(`update stock_reservations set status = 'reserved' where payment_id = 'pay_failed'`);
    run(`update products set stock = 6 where id = 'book'`);
    expect(expectOnly('reservation_mismatch', { paymentId: 'pay_failed' })).toContain('still holds book×1');
  });

  it('fulfilment_mismatch: a completed payment never fulfilled', () => {
    run(`delete from fulfilments where payment_id = 'pay_completed'`);
    expect(expectOnly('fulfilment_mismatch', { paymentId: 'pay_completed' })).toContain('never fulfilled');
  });

  it('money_not_returned: a failed payment whose charge landed at the PG and was never voided', () => {
    ledger = ledger.filter((e) => e.paymentId !== 'pay_failed');
    ledger.push(ledgerEntry('pay_failed', 'PAID', 15_000));
    const { violations } = check();
    expect(violations.map((v) => v.kind)).toEqual(['money_not_returned', 'state_disagrees_with_pg', 'money_disagrees_with_pg']);
    expect(violations[0]!.message).toBe(`payment pay_failed is failed but the PG holds 15000 of the customer's money (PAID)`);
  });

  it('money_not_returned: a cancelled payment the PG refunded only in part', () => {
    entry('pay_cancelled').cancelledAmount = 100_000;
    entry('pay_cancelled').status = 'PARTIAL_CANCELLED';
    const { violations } = check();
    expect(violations.map((v) => v.kind)).toEqual([
      'money_not_returned',
      'state_disagrees_with_pg',
      'cancelled_amount_mismatch',
      'money_disagrees_with_pg',
    ]);
    expect(violations[0]).toMatchObject({ paymentId: 'pay_cancelled' });
  });

  it('does not compare with the PG a payment an operator settled by hand', () => {
    // The money went back outside the PG: the PG still has it paid, and no void was recorded.
    run(`update payments set failure_code = 'resolved_by_operator' where id = 'pay_cancelled'`);
    run(`delete from money_movements where payment_id = 'pay_cancelled' and kind = 'void'`);
    entry('pay_cancelled').cancelledAmount = 0;
    entry('pay_cancelled').status = 'PAID';
    expect(check().violations).toEqual([]);
  });

  it.each([
    { paymentId: 'pay_failed', pg: 'CANCELLED', says: 'the PG has it CANCELLED' },
    { paymentId: 'pay_completed', pg: 'FAILED', says: 'the PG has it FAILED' },
    { paymentId: 'pay_completed', pg: undefined, says: 'the PG has no record of it' },
  ] as const)('state_disagrees_with_pg: $paymentId against PG $pg', ({ paymentId, pg, says }) => {
    ledger = ledger.filter((e) => e.paymentId !== paymentId);
    if (pg === 'CANCELLED') ledger.push(ledgerEntry(paymentId, 'CANCELLED', 15_000, 15_000));
    if (pg === 'FAILED') ledger.push(ledgerEntry(paymentId, 'FAILED', 30_000));
    expect(expectWithMoney('state_disagrees_with_pg', { paymentId })).toContain(says);
  });

  it('state_disagrees_with_pg: a rejected payment the PG has heard of', () => {
    ledger.push(ledgerEntry('pay_rejected', 'FAILED', 1_500_000));
    expect(expectOnly('state_disagrees_with_pg', { paymentId: 'pay_rejected' })).toBe(
      'payment pay_rejected is rejected but the PG has it FAILED',
    );
  });

  it('amount_mismatch: the PG took a different amount', () => {
    entry('pay_completed').paidAmount = 25_000;
    expect(expectWithMoney('amount_mismatch', { paymentId: 'pay_completed' })).toBe(
      'payment pay_completed amount 30000 but the PG took 25000 (PAID)',
    );
  });

  it('cancelled_amount_mismatch: the PG refunded a different amount', () => {
    entry('pay_partial').cancelledAmount = 7_000;
    expect(expectWithMoney('cancelled_amount_mismatch', { paymentId: 'pay_partial' })).toBe(
      'payment pay_partial (partially_cancelled) cancelled_amount 5000 but the PG cancelled 7000',
    );
  });

  it('unknown_pg_payment: the PG charged a payment the service never recorded', () => {
    ledger.push(ledgerEntry('pay_ghost', 'PAID', 15_000));
    expect(expectOnly('unknown_pg_payment', { paymentId: 'pay_ghost' })).toContain('pay_ghost (PAID, paid 15000)');
  });

  it('charged_twice: the PG took money twice for one payment', () => {
    entry('pay_completed').charges = 2;
    expect(expectOnly('charged_twice', { paymentId: 'pay_completed' })).toBe('the PG took money 2 times for payment pay_completed');
  });

  it('in_flight: a payment still processing on a quiesced system', () => {
    run(`update payments set status = 'processing' where id = 'pay_attention'`);
    expect(expectOnly('in_flight', { paymentId: 'pay_attention' })).toBe('payment pay_attention is still processing');
  });

  describe('events_disagree_with_history', () => {
    const HISTORY_SAYS = 'its history says payment.created, payment.completed';

    it.each([
      ['a missing event', [`delete from payment_events where payment_id = 'pay_completed' and sequence = 2`]],
      ['a gap in the sequence', [`update payment_events set sequence = 3 where payment_id = 'pay_completed' and sequence = 2`]],
      [
        'events out of order',
        [
          `update payment_events set type = 'payment.completed' where payment_id = 'pay_completed' and sequence = 1`,
          `update payment_events set type = 'payment.created' where payment_id = 'pay_completed' and sequence = 2`,
        ],
      ],
    ])('flags %s', (_, corruption) => {
      corruption.forEach(run);
      expect(expectOnly('events_disagree_with_history', { paymentId: 'pay_completed' })).toContain(HISTORY_SAYS);
    });

    it('flags an extra event', () => {
      insertEvent(sqlite, 'pay_completed', 3, 'payment.cancelled');
      expect(expectOnly('events_disagree_with_history', { paymentId: 'pay_completed' })).toContain(HISTORY_SAYS);
    });

    it('flags a payment whose events were never written', () => {
      run(`delete from payment_events where payment_id = 'pay_completed'`);
      expect(expectOnly('events_disagree_with_history', { paymentId: 'pay_completed' })).toBe(
        `payment pay_completed has no events but ${HISTORY_SAYS}`,
      );
    });

    it('flags a payment with neither a transition log nor events: every payment has payment.created', () => {
      run(`delete from payment_transitions where payment_id = 'pay_rejected'`);
      run(`delete from payment_events where payment_id = 'pay_rejected'`);
      expect(expectOnly('events_disagree_with_history', { paymentId: 'pay_rejected' })).toBe(
        'payment pay_rejected has no events but its history says payment.created',
      );
    });

    it('does not compare a payment whose log names a state this machine does not have', () => {
      run(`update payment_transitions set to_state = 'retiredState' where payment_id = 'pay_completed' and seq = 2`);
      run(`delete from payment_events where payment_id = 'pay_completed'`);
      expect(check().violations).toEqual([]);
    });
  });

  it('attention_without_dead_letter: the failed event was resolved but the payment still needs attention', () => {
    run(`update failed_events set status = 'retried' where payment_id = 'pay_attention'`);
    expect(expectOnly('attention_without_dead_letter', { paymentId: 'pay_attention' })).toContain('no open failed event');
  });

  it('attention_without_dead_letter: a dead event delivery is not the payment step dead letter', () => {
    run(`update failed_events set status = 'retried' where payment_id = 'pay_attention'`);
    insertDeadLetter(sqlite, 'pay_attention', 'webhook_delivery');
    expect(expectOnly('attention_without_dead_letter', { paymentId: 'pay_attention' })).toContain('no open failed event');
  });

  it('attention_without_alert: nobody was told', () => {
    run(`delete from alerts where payment_id = 'pay_attention'`);
    expect(expectOnly('attention_without_alert', { paymentId: 'pay_attention' })).toContain('no alert');
  });

  it('attention_without_alert: a warning about the payment is not the urgent attention alert', () => {
    run(`delete from alerts where payment_id = 'pay_attention'`);
    insertAlert(sqlite, 'pay_attention', 'warning');
    expect(expectOnly('attention_without_alert', { paymentId: 'pay_attention' })).toContain('no alert');
  });

  describe('money_disagrees_with_pg', () => {
    it('a charge the PG took that no movement records', () => {
      run(`delete from money_movements where payment_id = 'pay_completed'`);
      expect(expectOnly('money_disagrees_with_pg', { paymentId: 'pay_completed' })).toBe(
        'payment pay_completed (completed, PAID): charges add up to 0 but the PG took 30000',
      );
    });

    it('a refund the PG made that no movement records', () => {
      run(`delete from money_movements where payment_id = 'pay_partial' and kind = 'refund'`);
      expect(expectOnly('money_disagrees_with_pg', { paymentId: 'pay_partial' })).toBe(
        'payment pay_partial (partially_cancelled, PARTIAL_CANCELLED): refunds and voids add up to 0 but the PG gave back 5000',
      );
    });

    it('a charge recorded twice', () => {
      insertMovement(sqlite, 'pay_completed', 'charge', 30_000);
      expect(expectOnly('money_disagrees_with_pg', { paymentId: 'pay_completed' })).toBe(
        'payment pay_completed (completed, PAID): 2 charge movements; charges add up to 60000 but the PG took 30000',
      );
    });

    it('a void of money the PG never took', () => {
      insertMovement(sqlite, 'pay_failed', 'void', 15_000);
      expect(expectOnly('money_disagrees_with_pg', { paymentId: 'pay_failed' })).toBe(
        'payment pay_failed (failed, FAILED): refunds and voids add up to 15000 but the PG gave back 0',
      );
    });

    it('a charge recorded twice, even on a payment waiting for an operator', () => {
      insertMovement(sqlite, 'pay_attention', 'charge', 300_000);
      expect(expectOnly('money_disagrees_with_pg', { paymentId: 'pay_attention' })).toBe(
        'payment pay_attention (requires_attention, PAID): 2 charge movements',
      );
    });

    it.each([
      ['in flight (processing)', 'pay_completed', [`update payments set status = 'processing' where id = 'pay_completed'`], ['in_flight']],
      ['in flight (cancel_requested)', 'pay_completed', [`update payments set status = 'cancel_requested' where id = 'pay_completed'`], ['in_flight']],
      ['waiting for an operator', 'pay_attention', [], []],
      ['settled by an operator', 'pay_cancelled', [`update payments set failure_code = 'resolved_by_operator' where id = 'pay_cancelled'`], []],
    ])('does not compare a payment %s', (_, paymentId, setup, kinds) => {
      setup.forEach(run);
      run(`delete from money_movements where payment_id = '${paymentId}'`);
      expect(check().violations.map((v) => v.kind)).toEqual(kinds);
    });
  });
});

describe('check-invariants CLI', () => {
  const SECRET = 'cli-test-secret';
  let server: Server;
  let pgUrl: string;

  beforeEach(async () => {
    // Serves whatever `ledger` holds when asked, so a test corrupts it before running the CLI.
    server = createServer((req, res) => {
      const authorized = req.headers.authorization === `PortOne ${SECRET}`;
      res.writeHead(req.url === '/__ledger' && authorized ? 200 : 401, { 'content-type': 'application/json' });
      res.end(JSON.stringify(authorized ? { payments: ledger } : { type: 'UNAUTHORIZED' }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    pgUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterEach(() => new Promise<void>((resolve) => server.close(() => resolve())));

  // Asynchronous: the ledger server lives in this process and must keep answering.
  function runCli(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/invariants/main.ts', ...args], {
        cwd: join(import.meta.dirname, '../..'),
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk) => (stdout += chunk));
      child.stderr.on('data', (chunk) => (stderr += chunk));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });
  }

  it('exits 0 and says so on a consistent pair', async () => {
    const result = await runCli('--db', dbPath, '--pg', pgUrl, '--pg-secret', SECRET);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout).toContain('payments 6 (');
    expect(result.stdout).toContain('completed 1');
    expect(result.stdout.trim().endsWith('no violations')).toBe(true);
  });

  it('exits 1 and prints each violation with its kind and id', async () => {
    entry('pay_completed').charges = 2;
    run(`delete from alerts where payment_id = 'pay_attention'`);
    const result = await runCli('--db', dbPath, '--pg', pgUrl, '--pg-secret', SECRET);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('charged_twice payment=pay_completed the PG took money 2 times');
    expect(result.stdout).toContain('attention_without_alert payment=pay_attention');
    expect(result.stdout).toContain('2 violations');
  });

  it('prints the report as JSON with --json', async () => {
    entry('pay_partial').cancelledAmount = 7_000;
    const result = await runCli('--db', dbPath, '--pg', pgUrl, '--pg-secret', SECRET, '--json');
    expect(result.code).toBe(1);
    expect(JSON.parse(result.stdout)).toMatchObject({
      payments: 6,
      violations: [
        { kind: 'cancelled_amount_mismatch', paymentId: 'pay_partial' },
        { kind: 'money_disagrees_with_pg', paymentId: 'pay_partial' },
      ],
    });
  });

  it('exits 2 with a clear message when it cannot check', async () => {
    const usage = await runCli('--db', dbPath);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('--db and --pg are required');

    const missing = await runCli('--db', join(dir, 'nope.db'), '--pg', pgUrl, '--pg-secret', SECRET);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain(`cannot open database ${join(dir, 'nope.db')}`);

    const wrongSecret = await runCli('--db', dbPath, '--pg', pgUrl, '--pg-secret', 'wrong');
    expect(wrongSecret.code).toBe(2);
    expect(wrongSecret.stderr).toContain('answered 401');
  });
});
