import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Database } from '../../db/connection.ts';
import { appendTransition } from '../../db/payments-repo.ts';
import type { Sql, Tx } from '../../db/sql.ts';
import { checkInvariants, type ViolationKind } from '../../scripts/invariants/check-invariants.ts';
import type { LedgerEntry } from '../../src/mock-pg/mock-pg.ts';
import { insertPaymentRow } from '../support/payment-rows.ts';
import { useTempDatabase, type DatabaseLocation } from '../support/temp-database.ts';
import { newPostgresDatabase, testDialect } from '../support/test-database.ts';

const NOW = 1_700_000_000_000;

interface Item {
  productId: string;
  quantity: number;
  unitPrice: number;
}

function insertProduct(q: Sql, id: string, price: number, stock: number, totalStock: number): Promise<number> {
  return q.run(
    `insert into products (id, name, price, currency, stock, total_stock, partner_id, created_at)
       values (@id, @name, @price, 'KRW', @stock, @totalStock, 'partner-1', @at)`,
    { id, name: `Product ${id}`, price, stock, totalStock, at: NOW },
  );
}

/** A persisted snapshot standing in `state` (a path such as `charging.calling`), as the host stores it. */
function snapshotIn(state: string): string {
  const [leaf, ...parents] = state.split('.').reverse();
  const value = parents.reduce<unknown>((child, key) => ({ [key]: child }), leaf);
  return JSON.stringify({ status: 'active', value, context: {} });
}

/**
 * A payment as the host leaves it: its transition log through `history` (machine states, in
 * order, numbered 1, 2, 3… from its creation), its row and snapshot where the log arrived.
 */
async function insertPayment(q: Tx, id: string, status: string, items: Item[], history: string[], cancelledAmount = 0): Promise<void> {
  const state = history.at(-1)!;
  await insertPaymentRow(q, id, history[0]!, {
    partnerId: 'partner-1',
    amount: items.reduce((sum, item) => sum + item.quantity * item.unitPrice, 0),
    cancelledAmount,
    items: JSON.stringify(items),
    state,
    status,
    snapshot: snapshotIn(state),
    createdAt: NOW,
  });
  for (let seq = 2; seq <= history.length; seq++) await appendTransition(q, id, { type: 'x', from: history[seq - 2]!, to: history[seq - 1]!, at: NOW });
}

function insertReservation(q: Sql, paymentId: string, productId: string, quantity: number, status: 'reserved' | 'released'): Promise<number> {
  return q.run(
    `insert into stock_reservations (payment_id, product_id, quantity, status, created_at, released_at)
       values (@paymentId, @productId, @quantity, @status, @at, @releasedAt)`,
    { paymentId, productId, quantity, status, at: NOW, releasedAt: status === 'released' ? NOW : null },
  );
}

function insertFulfilment(q: Sql, paymentId: string): Promise<number> {
  return q.run(`insert into fulfilments (payment_id, customer_id, items, created_at) values (@paymentId, 'c-1', '[]', @at)`, { paymentId, at: NOW });
}

/** What recordAttention writes: the failed step's dead letter and the urgent alert. */
async function insertAttention(q: Sql, paymentId: string): Promise<void> {
  await insertDeadLetter(q, paymentId, 'payment_step');
  await insertAlert(q, paymentId, 'urgent');
}

function insertDeadLetter(q: Sql, paymentId: string, kind: 'payment_step' | 'webhook_delivery'): Promise<number> {
  return q.run(
    `insert into failed_events (kind, payment_id, step, reason, status, created_at, updated_at)
       values (@kind, @paymentId, @step, 'retries exhausted', 'open', @at, @at)`,
    { kind, paymentId, step: kind === 'payment_step' ? 'voiding' : 'webhook_delivery', at: NOW },
  );
}

function insertAlert(q: Sql, paymentId: string, severity: 'warning' | 'urgent'): Promise<number> {
  return q.run(
    `insert into alerts (payment_id, severity, title, details, created_at, next_attempt_at)
       values (@paymentId, @severity, 'about a payment', '{}', @at, @at)`,
    { paymentId, severity, at: NOW },
  );
}

/** The payment's outbox events, numbered 1, 2, 3… */
async function insertEvents(q: Sql, paymentId: string, types: string[]): Promise<void> {
  for (const [i, type] of types.entries()) await insertEvent(q, paymentId, i + 1, type);
}

function insertEvent(q: Sql, paymentId: string, sequence: number, type: string): Promise<number> {
  return q.run(
    `insert into payment_events (id, payment_id, sequence, type, occurred_at, data) values (@id, @paymentId, @sequence, @type, @at, '{}')`,
    { id: `evt_${paymentId}_${sequence}_${type}`, paymentId, sequence, type, at: NOW },
  );
}

function insertMovement(q: Sql, paymentId: string, kind: 'charge' | 'refund' | 'void', amount: number): Promise<number> {
  return q.run(`insert into money_movements (payment_id, kind, amount, at) values (@paymentId, @kind, @amount, @at)`, {
    paymentId,
    kind,
    amount,
    at: NOW,
  });
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
async function buildConsistentPair(q: Tx): Promise<LedgerEntry[]> {
  await insertProduct(q, 'book', 15_000, 7, 10);
  await insertProduct(q, 'seat', 300_000, 2, 3);

  await insertPayment(q, 'pay_completed', 'completed', [book(2)], CHARGED);
  await insertReservation(q, 'pay_completed', 'book', 2, 'reserved');
  await insertFulfilment(q, 'pay_completed');
  await insertEvents(q, 'pay_completed', ['payment.created', 'payment.completed']);
  await insertMovement(q, 'pay_completed', 'charge', 30_000);

  await insertPayment(q, 'pay_partial', 'partially_cancelled', [book(1)], [...CHARGED, 'cancelling.refunding', 'partially_cancelled'], 5_000);
  await insertReservation(q, 'pay_partial', 'book', 1, 'reserved');
  await insertFulfilment(q, 'pay_partial');
  await insertEvents(q, 'pay_partial', ['payment.created', 'payment.completed', 'payment.cancel_requested', 'payment.partially_cancelled']);
  await insertMovement(q, 'pay_partial', 'charge', 15_000);
  await insertMovement(q, 'pay_partial', 'refund', 5_000);

  // Paid, then its fulfilment failed for good: the charge was voided and the stock released.
  await insertPayment(
    q,
    'pay_cancelled',
    'cancelled',
    [seat(1)],
    [RESERVED, 'charging.calling', 'finalizing.fulfilling', 'compensating.voiding', 'releasing.releasingStock', 'cancelled'],
    300_000,
  );
  await insertReservation(q, 'pay_cancelled', 'seat', 1, 'released');
  await insertEvents(q, 'pay_cancelled', ['payment.created', 'payment.cancelled']);
  await insertMovement(q, 'pay_cancelled', 'charge', 300_000);
  await insertMovement(q, 'pay_cancelled', 'void', 300_000);

  // Declined by the PG: no money moved.
  await insertPayment(q, 'pay_failed', 'failed', [book(1)], [RESERVED, 'charging.calling', 'releasing.releasingStock', 'failed.closed']);
  await insertReservation(q, 'pay_failed', 'book', 1, 'released');
  await insertEvents(q, 'pay_failed', ['payment.created', 'payment.failed']);

  await insertPayment(q, 'pay_rejected', 'rejected', [seat(5)], [RESERVED, 'rejected']);
  await insertEvents(q, 'pay_rejected', ['payment.created', 'payment.rejected']);

  // Paid, its fulfilment failed and so did the void: the money and the seat wait for an operator.
  await insertPayment(q, 'pay_attention', 'requires_attention', [seat(1)], [
    RESERVED,
    'charging.calling',
    'finalizing.fulfilling',
    'compensating.voiding',
    'requires_attention',
  ]);
  await insertReservation(q, 'pay_attention', 'seat', 1, 'reserved');
  await insertEvents(q, 'pay_attention', ['payment.created', 'payment.requires_attention']);
  await insertMovement(q, 'pay_attention', 'charge', 300_000);
  await insertAttention(q, 'pay_attention');

  return [
    ledgerEntry('pay_completed', 'PAID', 30_000),
    ledgerEntry('pay_partial', 'PARTIAL_CANCELLED', 15_000, 5_000),
    ledgerEntry('pay_cancelled', 'CANCELLED', 300_000, 300_000),
    ledgerEntry('pay_failed', 'FAILED', 15_000),
    ledgerEntry('pay_attention', 'PAID', 300_000),
  ];
}

const temp = useTempDatabase('invariants');
let db: Database;
let ledger: LedgerEntry[];

beforeEach(async () => {
  db = await temp.connect();
  ledger = await db.commit.run(buildConsistentPair);
});

/** Changes the database in one committed write. */
const write = (work: (q: Tx) => Promise<unknown>) => db.commit.run(work);
const run = (text: string) => write((q) => q.run(text));
const entry = (paymentId: string) => ledger.find((e) => e.paymentId === paymentId)!;
const check = () => checkInvariants(db.read, ledger);

/** Asserts the corruption is caught, and caught as nothing else. */
async function expectOnly(kind: ViolationKind, ids: { paymentId?: string; productId?: string }) {
  const { violations } = await check();
  expect(violations.map((v) => v.kind)).toEqual([kind]);
  expect(violations[0]).toMatchObject(ids);
  return violations[0]!.message;
}

/** As expectOnly, for a PG ledger changed under the payment: its money movements then disagree with the PG too. */
async function expectWithMoney(kind: ViolationKind, ids: { paymentId: string }) {
  const { violations } = await check();
  expect(violations.map((v) => v.kind)).toEqual([kind, 'money_disagrees_with_pg']);
  expect(violations[0]).toMatchObject(ids);
  expect(violations[1]).toMatchObject(ids);
  return violations[0]!.message;
}

describe('checkInvariants', () => {
  it('finds nothing wrong with a consistent database and ledger', async () => {
    expect(await check()).toEqual({
      violations: [],
      payments: 6,
      products: 2,
      pgPayments: 5,
      byStatus: { completed: 1, partially_cancelled: 1, cancelled: 1, failed: 1, rejected: 1, requires_attention: 1 },
    });
  });

  it('stock_not_conserved: stock that appeared from nowhere', async () => {
    await run(`update products set stock = 8 where id = 'book'`);
    expect(await expectOnly('stock_not_conserved', { productId: 'book' })).toBe('product book: total_stock 10 ≠ stock 8 + reserved 3');
  });

  it('stock_not_conserved: negative stock, even when the sum adds up', async () => {
    await run(`update products set stock = -1, total_stock = 0 where id = 'seat'`);
    expect(await expectOnly('stock_not_conserved', { productId: 'seat' })).toContain('negative stock -1');
  });

  it('reservation_mismatch: a completed payment holding less than it bought', async () => {
    await run(`update stock_reservations set quantity = 1 where payment_id = 'pay_completed'`);
    await run(`update products set stock = 8 where id = 'book'`);
    expect(await expectOnly('reservation_mismatch', { paymentId: 'pay_completed' })).toBe(
      'payment pay_completed is completed with items book×2 but holds book×1',
    );
  });

  it('reservation_mismatch: a failed payment still holding stock', async () => {
    await run(`update stock_reservations set status = 'reserved' where payment_id = 'pay_failed'`);
    await run(`update products set stock = 6 where id = 'book'`);
    expect(await expectOnly('reservation_mismatch', { paymentId: 'pay_failed' })).toContain('still holds book×1');
  });

  it('fulfilment_mismatch: a completed payment never fulfilled', async () => {
    await run(`delete from fulfilments where payment_id = 'pay_completed'`);
    expect(await expectOnly('fulfilment_mismatch', { paymentId: 'pay_completed' })).toContain('never fulfilled');
  });

  it('money_not_returned: a failed payment whose charge landed at the PG and was never voided', async () => {
    ledger = ledger.filter((e) => e.paymentId !== 'pay_failed');
    ledger.push(ledgerEntry('pay_failed', 'PAID', 15_000));
    const { violations } = await check();
    expect(violations.map((v) => v.kind)).toEqual(['money_not_returned', 'state_disagrees_with_pg', 'money_disagrees_with_pg']);
    expect(violations[0]!.message).toBe(`payment pay_failed is failed but the PG holds 15000 of the customer's money (PAID)`);
  });

  it('money_not_returned: a cancelled payment the PG refunded only in part', async () => {
    entry('pay_cancelled').cancelledAmount = 100_000;
    entry('pay_cancelled').status = 'PARTIAL_CANCELLED';
    const { violations } = await check();
    expect(violations.map((v) => v.kind)).toEqual([
      'money_not_returned',
      'state_disagrees_with_pg',
      'cancelled_amount_mismatch',
      'money_disagrees_with_pg',
    ]);
    expect(violations[0]).toMatchObject({ paymentId: 'pay_cancelled' });
  });

  it('does not compare with the PG a payment an operator settled by hand', async () => {
    // The money went back outside the PG: the PG still has it paid, and no void was recorded.
    await run(`update payments set failure_code = 'resolved_by_operator' where id = 'pay_cancelled'`);
    await run(`delete from money_movements where payment_id = 'pay_cancelled' and kind = 'void'`);
    entry('pay_cancelled').cancelledAmount = 0;
    entry('pay_cancelled').status = 'PAID';
    expect((await check()).violations).toEqual([]);
  });

  it.each([
    { paymentId: 'pay_failed', pg: 'CANCELLED', says: 'the PG has it CANCELLED' },
    { paymentId: 'pay_completed', pg: 'FAILED', says: 'the PG has it FAILED' },
    { paymentId: 'pay_completed', pg: undefined, says: 'the PG has no record of it' },
  ] as const)('state_disagrees_with_pg: $paymentId against PG $pg', async ({ paymentId, pg: pgStatus, says }) => {
    ledger = ledger.filter((e) => e.paymentId !== paymentId);
    if (pgStatus === 'CANCELLED') ledger.push(ledgerEntry(paymentId, 'CANCELLED', 15_000, 15_000));
    if (pgStatus === 'FAILED') ledger.push(ledgerEntry(paymentId, 'FAILED', 30_000));
    expect(await expectWithMoney('state_disagrees_with_pg', { paymentId })).toContain(says);
  });

  it('state_disagrees_with_pg: a rejected payment the PG has heard of', async () => {
    ledger.push(ledgerEntry('pay_rejected', 'FAILED', 1_500_000));
    expect(await expectOnly('state_disagrees_with_pg', { paymentId: 'pay_rejected' })).toBe(
      'payment pay_rejected is rejected but the PG has it FAILED',
    );
  });

  it('amount_mismatch: the PG took a different amount', async () => {
    entry('pay_completed').paidAmount = 25_000;
    expect(await expectWithMoney('amount_mismatch', { paymentId: 'pay_completed' })).toBe(
      'payment pay_completed amount 30000 but the PG took 25000 (PAID)',
    );
  });

  it('cancelled_amount_mismatch: the PG refunded a different amount', async () => {
    entry('pay_partial').cancelledAmount = 7_000;
    expect(await expectWithMoney('cancelled_amount_mismatch', { paymentId: 'pay_partial' })).toBe(
      'payment pay_partial (partially_cancelled) cancelled_amount 5000 but the PG cancelled 7000',
    );
  });

  it('unknown_pg_payment: the PG charged a payment the service never recorded', async () => {
    ledger.push(ledgerEntry('pay_ghost', 'PAID', 15_000));
    expect(await expectOnly('unknown_pg_payment', { paymentId: 'pay_ghost' })).toContain('pay_ghost (PAID, paid 15000)');
  });

  it('charged_twice: the PG took money twice for one payment', async () => {
    entry('pay_completed').charges = 2;
    expect(await expectOnly('charged_twice', { paymentId: 'pay_completed' })).toBe('the PG took money 2 times for payment pay_completed');
  });

  it('in_flight: a payment still processing on a quiesced system', async () => {
    await run(`update payments set status = 'processing' where id = 'pay_attention'`);
    expect(await expectOnly('in_flight', { paymentId: 'pay_attention' })).toBe('payment pay_attention is still processing');
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
    ])('flags %s', async (_, corruption) => {
      for (const statement of corruption) await run(statement);
      expect(await expectOnly('events_disagree_with_history', { paymentId: 'pay_completed' })).toContain(HISTORY_SAYS);
    });

    it('flags an extra event', async () => {
      await write((q) => insertEvent(q, 'pay_completed', 3, 'payment.cancelled'));
      expect(await expectOnly('events_disagree_with_history', { paymentId: 'pay_completed' })).toContain(HISTORY_SAYS);
    });

    it('flags a payment whose events were never written', async () => {
      await run(`delete from payment_events where payment_id = 'pay_completed'`);
      expect(await expectOnly('events_disagree_with_history', { paymentId: 'pay_completed' })).toBe(
        `payment pay_completed has no events but ${HISTORY_SAYS}`,
      );
    });

    it('flags a payment with neither a transition log nor events: every payment has payment.created', async () => {
      await run(`delete from payment_transitions where payment_id = 'pay_rejected'`);
      await run(`delete from payment_events where payment_id = 'pay_rejected'`);
      const { violations } = await check();
      expect(violations.map((v) => [v.kind, v.message])).toEqual([
        ['events_disagree_with_history', 'payment pay_rejected has no events but its history says payment.created'],
        ['state_disagrees_with_history', 'payment pay_rejected is in state rejected but has no transitions'],
      ]);
    });

    it('does not compare a payment whose log names a state this machine does not have', async () => {
      await run(`update payment_transitions set to_state = 'retiredState' where payment_id = 'pay_completed' and seq = 2`);
      await run(`update payment_transitions set from_state = 'retiredState' where payment_id = 'pay_completed' and seq = 3`);
      await run(`delete from payment_events where payment_id = 'pay_completed'`);
      expect((await check()).violations).toEqual([]);
    });
  });

  describe('lease audit: one runner at a time', () => {
    // pay_completed's log: 1 → reserving.reservingStock, 2 → charging.calling, 3 → finalizing.fulfilling, 4 → completed.

    it.each([
      ['in the middle', `update payment_transitions set seq = 5 where payment_id = 'pay_completed' and seq = 4`, 'seq 5 where seq 4 was due'],
      ['at the start', `update payment_transitions set seq = seq + 10 where payment_id = 'pay_completed'`, 'seq 11 where seq 1 was due'],
    ])('transition_seq_gap: a gap %s of the numbering', async (_, corruption, says) => {
      await run(corruption);
      expect(await expectOnly('transition_seq_gap', { paymentId: 'pay_completed' })).toBe(`payment pay_completed has transition ${says}`);
    });

    it('transition_chain_broken: a second runner drove a step the first had already taken (a fork)', async () => {
      await write((q) => appendTransition(q, 'pay_completed', { type: 'x', from: 'finalizing.fulfilling', to: 'completed', at: NOW }));
      expect(await expectOnly('transition_chain_broken', { paymentId: 'pay_completed' })).toBe(
        'payment pay_completed: transition seq 5 leaves finalizing.fulfilling but seq 4 arrived at completed',
      );
    });

    it('transition_chain_broken: a step lost between two transitions', async () => {
      await run(`delete from payment_transitions where payment_id = 'pay_completed' and seq = 3`);
      await run(`update payment_transitions set seq = 3 where payment_id = 'pay_completed' and seq = 4`);
      expect(await expectOnly('transition_chain_broken', { paymentId: 'pay_completed' })).toBe(
        'payment pay_completed: transition seq 3 leaves finalizing.fulfilling but seq 2 arrived at charging.calling',
      );
    });

    it('transition_chain_broken: a log that does not start with the creation', async () => {
      await run(`update payment_transitions set from_state = 'charging.calling' where payment_id = 'pay_completed' and seq = 1`);
      expect(await expectOnly('transition_chain_broken', { paymentId: 'pay_completed' })).toBe(
        'payment pay_completed: transition seq 1 leaves charging.calling but the first one starts from nothing (the creation)',
      );
    });

    it('state_disagrees_with_history: the row stands elsewhere than its last transition arrived', async () => {
      await run(`update payments set state = 'finalizing.fulfilling' where id = 'pay_completed'`);
      expect(await expectOnly('state_disagrees_with_history', { paymentId: 'pay_completed' })).toBe(
        'payment pay_completed is in state finalizing.fulfilling but its last transition, seq 4, arrived at completed',
      );
    });

    it.each([
      ['another state', snapshotIn('finalizing.fulfilling'), 'finalizing.fulfilling'],
      ['no state at all', '{}', 'no readable state'],
    ])('state_disagrees_with_history: a snapshot in %s', async (_, snapshot, says) => {
      await write((q) => q.run(`update payments set snapshot = @snapshot where id = 'pay_completed'`, { snapshot }));
      expect(await expectOnly('state_disagrees_with_history', { paymentId: 'pay_completed' })).toBe(
        `payment pay_completed's snapshot is in ${says} but its last transition, seq 4, arrived at completed`,
      );
    });
  });

  it('attention_without_dead_letter: the failed event was resolved but the payment still needs attention', async () => {
    await run(`update failed_events set status = 'retried' where payment_id = 'pay_attention'`);
    expect(await expectOnly('attention_without_dead_letter', { paymentId: 'pay_attention' })).toContain('no open failed event');
  });

  it('attention_without_dead_letter: a dead event delivery is not the payment step dead letter', async () => {
    await run(`update failed_events set status = 'retried' where payment_id = 'pay_attention'`);
    await write((q) => insertDeadLetter(q, 'pay_attention', 'webhook_delivery'));
    expect(await expectOnly('attention_without_dead_letter', { paymentId: 'pay_attention' })).toContain('no open failed event');
  });

  it('attention_without_alert: nobody was told', async () => {
    await run(`delete from alerts where payment_id = 'pay_attention'`);
    expect(await expectOnly('attention_without_alert', { paymentId: 'pay_attention' })).toContain('no alert');
  });

  it('attention_without_alert: a warning about the payment is not the urgent attention alert', async () => {
    await run(`delete from alerts where payment_id = 'pay_attention'`);
    await write((q) => insertAlert(q, 'pay_attention', 'warning'));
    expect(await expectOnly('attention_without_alert', { paymentId: 'pay_attention' })).toContain('no alert');
  });

  describe('money_disagrees_with_pg', () => {
    it('a charge the PG took that no movement records', async () => {
      await run(`delete from money_movements where payment_id = 'pay_completed'`);
      expect(await expectOnly('money_disagrees_with_pg', { paymentId: 'pay_completed' })).toBe(
        'payment pay_completed (completed, PAID): charges add up to 0 but the PG took 30000',
      );
    });

    it('a refund the PG made that no movement records', async () => {
      await run(`delete from money_movements where payment_id = 'pay_partial' and kind = 'refund'`);
      expect(await expectOnly('money_disagrees_with_pg', { paymentId: 'pay_partial' })).toBe(
        'payment pay_partial (partially_cancelled, PARTIAL_CANCELLED): refunds and voids add up to 0 but the PG gave back 5000',
      );
    });

    it('a charge recorded twice', async () => {
      await write((q) => insertMovement(q, 'pay_completed', 'charge', 30_000));
      expect(await expectOnly('money_disagrees_with_pg', { paymentId: 'pay_completed' })).toBe(
        'payment pay_completed (completed, PAID): 2 charge movements; charges add up to 60000 but the PG took 30000',
      );
    });

    it('a void of money the PG never took', async () => {
      await write((q) => insertMovement(q, 'pay_failed', 'void', 15_000));
      expect(await expectOnly('money_disagrees_with_pg', { paymentId: 'pay_failed' })).toBe(
        'payment pay_failed (failed, FAILED): refunds and voids add up to 15000 but the PG gave back 0',
      );
    });

    it('a charge recorded twice, even on a payment waiting for an operator', async () => {
      await write((q) => insertMovement(q, 'pay_attention', 'charge', 300_000));
      expect(await expectOnly('money_disagrees_with_pg', { paymentId: 'pay_attention' })).toBe(
        'payment pay_attention (requires_attention, PAID): 2 charge movements',
      );
    });

    it.each([
      ['in flight (processing)', 'pay_completed', [`update payments set status = 'processing' where id = 'pay_completed'`], ['in_flight']],
      ['in flight (cancel_requested)', 'pay_completed', [`update payments set status = 'cancel_requested' where id = 'pay_completed'`], ['in_flight']],
      ['waiting for an operator', 'pay_attention', [], []],
      ['settled by an operator', 'pay_cancelled', [`update payments set failure_code = 'resolved_by_operator' where id = 'pay_cancelled'`], []],
    ])('does not compare a payment %s', async (_, paymentId, setup, kinds) => {
      for (const statement of setup) await run(statement);
      await run(`delete from money_movements where payment_id = '${paymentId}'`);
      expect((await check()).violations.map((v) => v.kind)).toEqual(kinds);
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
  function runCli(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
    // The database is named by the test alone, never by a DATABASE_URL of whoever runs the tests.
    const { DATABASE_URL: _ignored, ...inherited } = process.env;
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/invariants/main.ts', ...args], {
        cwd: join(import.meta.dirname, '../..'),
        env: { ...inherited, ...env },
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk) => (stdout += chunk));
      child.stderr.on('data', (chunk) => (stderr += chunk));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });
  }

  const pgFlags = () => ['--pg', pgUrl, '--pg-secret', SECRET];
  const flagsFor = ({ path, url }: DatabaseLocation) => (url === undefined ? ['--db', path] : ['--database-url', url]);
  const databaseFlags = async () => flagsFor(await temp.location());

  it('exits 0 and says so on a consistent pair', async () => {
    const result = await runCli([...(await databaseFlags()), ...pgFlags()]);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout).toContain('payments 6 (');
    expect(result.stdout).toContain('completed 1');
    expect(result.stdout.trim().endsWith('no violations')).toBe(true);
  });

  it('exits 1 and prints each violation with its kind and id', async () => {
    entry('pay_completed').charges = 2;
    await run(`delete from alerts where payment_id = 'pay_attention'`);
    await run(`update payments set state = 'charging.calling' where id = 'pay_failed'`);
    const result = await runCli([...(await databaseFlags()), ...pgFlags()]);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('attention_without_alert payment=pay_attention');
    expect(result.stdout).toContain('state_disagrees_with_history payment=pay_failed payment pay_failed is in state charging.calling');
    expect(result.stdout).toContain('charged_twice payment=pay_completed the PG took money 2 times');
    expect(result.stdout).toContain('3 violations');
  });

  it('prints the report as JSON with --json', async () => {
    entry('pay_partial').cancelledAmount = 7_000;
    const result = await runCli([...(await databaseFlags()), ...pgFlags(), '--json']);
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
    const noPg = await runCli(await databaseFlags());
    expect(noPg.code).toBe(2);
    expect(noPg.stderr).toContain('--pg is required');

    const { path, url } = await temp.location();
    const absent = flagsFor({ path: join(dirname(path), 'absent.db'), url: url?.replace(/\/\w+$/, '/absent') });
    const missing = await runCli([...absent, ...pgFlags()]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain(`cannot open database ${absent[1]}`);

    const wrongSecret = await runCli([...(await databaseFlags()), '--pg', pgUrl, '--pg-secret', 'wrong']);
    expect(wrongSecret.code).toBe(2);
    expect(wrongSecret.stderr).toContain('answered 401');
  });

  it.each([
    ['no database', [], {}, '--db or --database-url (or DATABASE_URL) is required'],
    ['two databases', ['--db', 'paystate.db', '--database-url', 'postgres://127.0.0.1/paystate'], {}, 'name two databases'],
    ['a DATABASE_URL that is no PostgreSQL URL', [], { DATABASE_URL: 'paystate.db' }, 'must be a postgres:// or postgresql:// URL'],
  ])('exits 2 with its usage on %s', async (_, flags, env, says) => {
    const result = await runCli([...flags, ...pgFlags()], env);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(says);
    expect(result.stderr).toContain('usage: npm run check-invariants');
  });

  it.runIf(testDialect === 'sqlite')('reads --db even when DATABASE_URL is set', async () => {
    const result = await runCli([...(await databaseFlags()), ...pgFlags()], { DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' });
    expect(result).toMatchObject({ code: 0, stderr: '' });
  });

  it.runIf(testDialect === 'postgres')('reads the database DATABASE_URL names when no flag names one', async () => {
    const result = await runCli(pgFlags(), { DATABASE_URL: (await temp.location()).url! });
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout.trim().endsWith('no violations')).toBe(true);
  });

  it.runIf(testDialect === 'postgres')('does not migrate a database that is not a Paystate one', async () => {
    const url = await newPostgresDatabase();
    const result = await runCli(['--database-url', url, ...pgFlags()]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/cannot read postgres:\/\/\S+ as a Paystate database: relation "\w+" does not exist/);
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const tables = await client.query(`select table_name from information_schema.tables where table_schema not in ('pg_catalog', 'information_schema')`);
      expect(tables.rows).toEqual([]);
    } finally {
      await client.end();
    }
  });
});
