import { pino } from 'pino';
import { beforeEach, describe, expect, it } from 'vitest';
import { createActor, toPromise, type AnyActorLogic } from 'xstate';
import { upsertCancellation, listRefundAttempts } from '../../db/cancellations-repo.ts';
import type { Database } from '../../db/connection.ts';
import { createPaymentActors } from '../../src/payments/payment-actors.ts';
import { OrderCache } from '../../src/payments/order-cache.ts';
import type { CancelResult, LookupResult, PgClient } from '../../src/pg/pg-client.ts';
import { insertPaymentRow } from '../support/payment-rows.ts';
import { useTempDatabase } from '../support/temp-database.ts';

/**
 * The payment's steps on a real database (the run's dialect), with a PG client that
 * answers as each test says and counts what it was asked: how a step behaves when it runs
 * again.
 */
const OWNER = 'this-process';
const database = useTempDatabase('steps');
let db: Database;
beforeEach(async () => {
  db = await database.connect();
});

interface FakePg extends PgClient {
  cancels: number;
  lookups: number;
}

function fakePg(answers: { cancel: () => CancelResult; lookup: () => LookupResult }): FakePg {
  const pg: FakePg = {
    cancels: 0,
    lookups: 0,
    queued: 0,
    chargeWithBillingKey: () => Promise.reject(new Error('no charge expected')),
    listPayments: () => Promise.reject(new Error('no list expected')),
    getPayment: async () => {
      pg.lookups++;
      return answers.lookup();
    },
    cancelPayment: async () => {
      pg.cancels++;
      return answers.cancel();
    },
    close: async () => {},
  };
  return pg;
}

/** When the PG's record says the refund landed: what the step reports as the time money went back. */
const REFUNDED_AT = '2026-12-01T23:59:59.000Z';
const pgShows = (cancelledAmount: number): LookupResult => ({
  kind: 'found',
  status: cancelledAmount > 0 ? 'PARTIAL_CANCELLED' : 'PAID',
  pgTxId: 'tx',
  paidAt: '2026-12-01T00:00:00.000Z',
  cancelledAt: cancelledAmount > 0 ? REFUNDED_AT : null,
  paidAmount: 30_000,
  cancelledAmount,
});

/** A completed payment refunding 10,000 of 30,000, committed in `cancelling.refunding` under our lease. */
function refundingPayment(): Promise<void> {
  return db.commit.run(async (tx) => {
    await insertPaymentRow(tx, 'pay_r', 'cancelling.refunding', {
      status: 'cancel_requested',
      leaseOwner: OWNER,
      leaseExpiresAt: Date.now() + 60_000,
    });
    await upsertCancellation(tx, {
      id: 'can_1',
      paymentId: 'pay_r',
      seq: 1,
      idempotencyKey: 'ck',
      requestFingerprint: 'f',
      amount: 10_000,
      reason: 'r',
      requestedAt: 1,
    });
  });
}

const refundInput = {
  paymentId: 'pay_r',
  cancellationId: 'can_1',
  amount: 10_000,
  cancelledTotal: 10_000,
  reason: 'r',
  pgIdempotencyKey: 'pay_r:cancel:1',
};

function runStep<T>(logic: AnyActorLogic, input: unknown): Promise<T> {
  const actor = createActor(logic, { input });
  const done = toPromise(actor) as Promise<T>;
  actor.start();
  return done;
}

const actorsWith = (pg: PgClient) =>
  createPaymentActors({ db, pg, clock: Date.now, logger: pino({ level: 'silent' }), owner: OWNER, orders: new OrderCache(db.read) });

describe('a refund sent again', () => {
  it('asks the PG first and does not send again when the earlier call landed', async () => {
    await refundingPayment();
    let landed = false;
    const pg = fakePg({
      // The first call reaches the PG, but its answer is lost on the way back.
      cancel: () => {
        landed = true;
        return { kind: 'unknown', reason: 'timeout' };
      },
      // The PG's record lags behind at first: the refund is not visible yet.
      lookup: () => pgShows(landed && pg.lookups > 1 ? 10_000 : 0),
    });
    const actors = actorsWith(pg);
    expect(await runStep(actors.refundPayment, refundInput)).toEqual({ kind: 'unknown', reason: 'timeout' });
    expect(pg.cancels).toBe(1);

    // Restored after a crash, or resent after the inquiry: the PG's record now shows it, and when.
    expect(await runStep(actors.refundPayment, refundInput)).toEqual({ kind: 'refunded', cancelledAt: REFUNDED_AT });
    expect(pg.cancels).toBe(1);
    expect((await listRefundAttempts(db.read, 'pay_r')).map((a) => a.outcome)).toEqual(['transient', 'succeeded']);
    expect(await db.read.get('select pg_calls as "pgCalls" from cancellations where id = @id', { id: 'can_1' })).toEqual({ pgCalls: 2 });
  });

  it('sends again only once the PG shows the earlier call did not land', async () => {
    await refundingPayment();
    const pg = fakePg({ cancel: () => ({ kind: 'unknown', reason: 'timeout' }), lookup: () => pgShows(0) });
    const actors = actorsWith(pg);
    await runStep(actors.refundPayment, refundInput);
    await runStep(actors.refundPayment, refundInput);
    expect(pg.cancels).toBe(2);
  });

  it('does not send again while the PG does not answer the question', async () => {
    await refundingPayment();
    let lookupAnswers = true;
    const pg = fakePg({
      cancel: () => ({ kind: 'unknown', reason: 'timeout' }),
      lookup: () => (lookupAnswers ? pgShows(0) : { kind: 'unknown', reason: 'timeout' }),
    });
    const actors = actorsWith(pg);
    await runStep(actors.refundPayment, refundInput);
    lookupAnswers = false;
    expect(await runStep(actors.refundPayment, refundInput)).toEqual({ kind: 'unknown', reason: 'pg_no_answer_before_resend' });
    expect(pg.cancels).toBe(1);
  });

  it('treats "already cancelled up to this total" as done', async () => {
    await refundingPayment();
    const pg = fakePg({ cancel: () => ({ kind: 'refused', code: 'CANCEL_AMOUNT_EXCEEDS_CANCELLABLE_AMOUNT' }), lookup: () => pgShows(10_000) });
    expect(await runStep(actorsWith(pg).refundPayment, refundInput)).toEqual({ kind: 'refunded', cancelledAt: REFUNDED_AT });
  });

  it('keeps a real refusal a refusal', async () => {
    await refundingPayment();
    const pg = fakePg({ cancel: () => ({ kind: 'refused', code: 'PG_PROVIDER' }), lookup: () => pgShows(0) });
    expect(await runStep(actorsWith(pg).refundPayment, refundInput)).toEqual({ kind: 'refused', code: 'PG_PROVIDER' });
    expect(pg.lookups).toBe(0);
  });
});
