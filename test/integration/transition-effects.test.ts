import { beforeEach, describe, expect, it } from 'vitest';
import { initialTransition } from 'xstate';
import { listCancellations } from '../../db/cancellations-repo.ts';
import type { Database } from '../../db/connection.ts';
import { listFailedEvents } from '../../db/attention-repo.ts';
import { paymentMachine, type CancelRequest, type PaymentContext, type RetryPolicy } from '../../machines/payment.machine.ts';
import type { HostWrite, TransitionRecord } from '../../src/payments/host-write.ts';
import { recordTransitionEffects } from '../../src/payments/transition-effects.ts';
import { useTempDatabase } from '../support/temp-database.ts';

const database = useTempDatabase('effects');
let db: Database;
beforeEach(async () => {
  db = await database.connect();
});

/** Commits the transitions' side effects as the host does: inside the write's group-commit job. */
const record = (hostWrite: HostWrite) => db.commit.run((tx) => recordTransitionEffects(tx, hostWrite));

const retry: RetryPolicy = {
  baseMs: 1,
  capMs: 1,
  stepRetries: 1,
  notFoundGraceMs: 1,
  maxCharges: 1,
  inquiryAlertAfterMs: 1,
  lateChargeWindowMs: 1,
  lateChargeChecks: 1,
};
const [initial] = initialTransition(paymentMachine, { paymentId: 'pay_e', amount: 30_000, retry });
const context = (changes: Partial<PaymentContext>): PaymentContext => ({ ...initial.context, ...changes });
const cancel = (id: string, seq: number): CancelRequest => ({
  id,
  seq,
  amount: 10_000,
  reason: 'r',
  idempotencyKey: `key-${id}`,
  fingerprint: 'f',
});

function transition(from: string, to: string, changes: Partial<PaymentContext>, extra: Partial<TransitionRecord> = {}): TransitionRecord {
  return { type: 'x', from, to, at: 1_000, fromStatus: 'processing', status: 'processing', context: context(changes), emitted: [], ...extra };
}

function write(...transitions: TransitionRecord[]): HostWrite {
  const last = transitions.at(-1)!;
  return {
    paymentId: 'pay_e',
    machineVersion: 2,
    state: last.to,
    status: last.status,
    failureCode: null,
    cancelledAmount: 0,
    snapshot: '{}',
    dueAt: null,
    active: false,
    updatedAt: last.at,
    transitions,
  };
}

describe('transition side effects', () => {
  it('records each transition with its own context when several commit in one write', async () => {
    const first = cancel('can_a', 1);
    const second = cancel('can_b', 2);
    await record(write(transition('completed', 'cancelling.refunding', { cancel: first })));
    // One write carries: refund A landed (partially_cancelled), then refund B was accepted.
    await record(
      write(
        transition('cancelling.refunding', 'partially_cancelled', { cancel: first }),
        transition('partially_cancelled', 'cancelling.refunding', { cancel: second }),
      ),
    );
    expect((await listCancellations(db.read, 'pay_e')).map((c) => [c.id, c.status])).toEqual([
      ['can_a', 'succeeded'],
      ['can_b', 'requested'],
    ]);
  });

  it('writes a dead letter and an urgent alert with the step that failed at that moment', async () => {
    await record(
      write(
        transition('releasing.waiting', 'requires_attention', { attentionStep: 'releasing', attentionReason: 'disk' }),
        transition('requires_attention', 'releasing.releasingStock', { attentionStep: null, attentionReason: null }, { type: 'admin.retry' }),
      ),
    );
    expect(await listFailedEvents(db.read)).toMatchObject([{ step: 'releasing', reason: 'disk', kind: 'payment_step' }]);
    const alerts = await db.read.all('select severity, payment_id as "paymentId" from alerts');
    expect(alerts).toEqual([{ severity: 'urgent', paymentId: 'pay_e' }]);
  });

  it('writes the alerts the machine raised, with the transition that raised them', async () => {
    await record(
      write(transition('inquiring.checking', 'inquiring.waiting', {}, { emitted: [{ type: 'alert', severity: 'warning', title: 'slow PG', details: { n: 1 } }] })),
    );
    expect(await db.read.all('select severity, title, details, created_at as at from alerts')).toEqual([
      { severity: 'warning', title: 'slow PG', details: '{"n":1}', at: 1_000 },
    ]);
  });

  it("records the money the machine saw move: a charge at the PG's time, a refund at the transition's", async () => {
    await record(
      write(
        transition('charging.calling', 'finalizing.fulfilling', {}, { emitted: [{ type: 'money', kind: 'charge', amount: 30_000, at: 900 }] }),
        transition('cancelling.refunding', 'partially_cancelled', {}, { at: 2_000, emitted: [{ type: 'money', kind: 'refund', amount: 10_000, at: null }] }),
      ),
    );
    expect(await db.read.all('select payment_id as "paymentId", kind, amount, at from money_movements order by id')).toEqual([
      { paymentId: 'pay_e', kind: 'charge', amount: 30_000, at: 900 },
      { paymentId: 'pay_e', kind: 'refund', amount: 10_000, at: 2_000 },
    ]);
  });
});
