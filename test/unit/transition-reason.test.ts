import { describe, expect, it } from 'vitest';
import { StepError } from '../../src/payments/step-errors.ts';
import { transitionReason } from '../../src/payments/transition-reason.ts';

const done = (step: string, output: unknown) => ({ type: `xstate.done.actor.${step}`, output });

describe('why a transition happened', () => {
  it('says what a step answered, not which XState event carried it', () => {
    expect(transitionReason(done('chargePayment', { kind: 'paid', pgTxId: 'tx', paidAt: null }))).toBe('pg.paid');
    expect(transitionReason(done('chargePayment', { kind: 'declined', code: 'card_declined' }))).toBe('pg.declined card_declined');
    expect(transitionReason(done('chargePayment', { kind: 'unknown', reason: 'timeout' }))).toBe('pg.no_answer timeout');
    expect(transitionReason(done('inquirePgStatus', { kind: 'found', status: 'FAILED' }))).toBe('pg.status FAILED');
    expect(transitionReason(done('inquirePgStatus', { kind: 'not_found' }))).toBe('pg.not_found');
    expect(transitionReason(done('inquirePgStatus', { kind: 'unknown', reason: 'pg_unauthorized' }))).toBe('pg.no_answer pg_unauthorized');
    expect(transitionReason(done('refundPayment', { kind: 'refused', code: 'PG_PROVIDER' }))).toBe('pg.refused PG_PROVIDER');
    expect(transitionReason(done('voidCharge', { kind: 'voided', cancelledAt: null }))).toBe('pg.voided');
    expect(transitionReason(done('reserveStock', { kind: 'out_of_stock' }))).toBe('stock.out_of_stock');
    expect(transitionReason(done('fulfilOrder', undefined))).toBe('order.fulfilled');
    expect(transitionReason(done('releaseStock', undefined))).toBe('stock.released');
  });

  it('says which step failed and whether it may pass, never the error message (the log is public)', () => {
    const error = (e: unknown) => ({ type: 'xstate.error.actor.fulfilOrder', error: e }) as never;
    expect(transitionReason(error(new StepError('lease of pay_1 held by host-a:3000', true)))).toBe('fulfilOrder.failed transient');
    expect(transitionReason(error(new StepError('UNIQUE constraint failed: fulfilments.payment_id', false)))).toBe('fulfilOrder.failed final');
    expect(transitionReason(error(new Error('database is locked')))).toBe('fulfilOrder.failed final');
  });

  it('names webhooks and outside events as they are', () => {
    expect(transitionReason({ type: 'pg.status', record: { kind: 'found', status: 'PAID' } } as never)).toBe('webhook: pg.status PAID');
    expect(transitionReason({ type: 'api.cancel' })).toBe('api.cancel');
    expect(transitionReason({ type: 'timer.due' })).toBe('timer.due');
  });
});
