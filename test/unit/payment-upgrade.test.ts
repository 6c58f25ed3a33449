import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createActor, type AnyActorRef } from 'xstate';
import { publicStatusOf, RESTING, statePath, WAITING } from '../../machines/payment-status.ts';
import { loadConfig } from '../../src/config.ts';
import { createSnapshotReader } from '../../src/payments/snapshot-reader.ts';
import { retryPolicyFrom } from '../../src/payments/retry-policy.ts';
import { inertPaymentMachine } from '../support/inert-payment-machine.ts';

/**
 * Snapshots persisted by machine version 1 (commit e2b9ab7), one per state it could rest,
 * wait or step in: what a database written before version 2 holds.
 */
const V1: Record<string, unknown> = JSON.parse(readFileSync(new URL('../fixtures/payment-snapshots-v1.json', import.meta.url), 'utf8'));

const retry = retryPolicyFrom(loadConfig({}));
const read = createSnapshotReader(retry);
const inert = inertPaymentMachine();

const EXPECTED: Record<string, { path: string; status: string }> = {
  reserving: { path: 'reserving.reservingStock', status: 'processing' },
  charging: { path: 'charging.calling', status: 'processing' },
  'inquiring.checking': { path: 'inquiring.checking', status: 'processing' },
  'inquiring.waiting': { path: 'inquiring.waiting', status: 'processing' },
  'finalizing.fulfilling': { path: 'finalizing.fulfilling', status: 'processing' },
  'finalizing.waiting': { path: 'finalizing.waiting', status: 'processing' },
  'compensating.voiding': { path: 'compensating.voiding', status: 'processing' },
  'compensating.waiting': { path: 'compensating.waiting', status: 'processing' },
  'releasing.releasingStock': { path: 'releasing.releasingStock', status: 'processing' },
  'releasing.waiting': { path: 'releasing.waiting', status: 'processing' },
  completed: { path: 'completed', status: 'completed' },
  'cancelling.refunding': { path: 'cancelling.refunding', status: 'cancel_requested' },
  'cancelling.retrying': { path: 'cancelling.waiting', status: 'cancel_requested' },
  'cancelling.queued': { path: 'cancelling.waiting', status: 'cancel_requested' },
  partially_cancelled: { path: 'partially_cancelled', status: 'partially_cancelled' },
  rejected: { path: 'rejected', status: 'rejected' },
  failed: { path: 'failed.closed', status: 'failed' },
  cancelled: { path: 'cancelled', status: 'cancelled' },
  requires_attention: { path: 'requires_attention', status: 'requires_attention' },
};

describe('version 1 payment snapshots', () => {
  it('covers every state version 1 stored', () => {
    expect(Object.keys(V1).sort()).toEqual(Object.keys(EXPECTED).sort());
  });

  it.each(Object.entries(EXPECTED))('%s resumes as %o', (v1Path, { path, status }) => {
    const upgraded = read(JSON.stringify(V1[v1Path]), 1);
    const actor = createActor(inert, { snapshot: upgraded as never, input: undefined as never }).start();
    const restored = actor.getSnapshot();
    expect(statePath(restored.value)).toBe(path);
    expect(publicStatusOf(restored)).toBe(status);
    expect(restored.context.retry).toEqual(retry);
    expect(restored.context).toMatchObject({ paymentId: 'pay_v1', amount: 30_000, lateChecks: 0, voidAmount: null, inquiryAlerted: false });
    expect(restored.context).not.toHaveProperty('refundQueued');
    // A step in progress runs again (rule 3); a wait or a rest starts nothing.
    const midStep = !restored.hasTag(WAITING) && !restored.hasTag(RESTING) && restored.status === 'active';
    expect(Object.keys(restored.children as Record<string, AnyActorRef | undefined>).length).toBe(midStep ? 1 : 0);
    actor.stop();
  });

  it('takes events where version 1 left off: a refund of a completed payment, an operator retry', () => {
    const completed = createActor(inert, { snapshot: read(JSON.stringify(V1.completed), 1) as never, input: undefined as never }).start();
    completed.send({ type: 'api.cancel', id: 'can_2', amount: 5_000, reason: 'r', idempotencyKey: 'k2', fingerprint: 'f' });
    expect(statePath(completed.getSnapshot().value)).toBe('cancelling.refunding');
    completed.stop();
    const attention = createActor(inert, { snapshot: read(JSON.stringify(V1.requires_attention), 1) as never, input: undefined as never }).start();
    attention.send({ type: 'admin.retry', failedEventId: '1', actor: 'ops', reason: 'retry' });
    expect(statePath(attention.getSnapshot().value)).toBe('cancelling.refunding');
    attention.stop();
  });

  it('reads the current version as stored and refuses a newer one', () => {
    expect(read('{"a":1}', 2)).toEqual({ a: 1 });
    expect(read('{"a":1}', 3)).toBeUndefined();
  });
});
