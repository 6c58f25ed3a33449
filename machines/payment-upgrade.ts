import type { PaymentContext, RetryPolicy } from './payment.machine.ts';

/** A persisted snapshot as stored: XState's JSON, read without trusting its shape. */
interface StoredSnapshot {
  status: string;
  value: unknown;
  context: Record<string, unknown>;
  output?: unknown;
  [key: string]: unknown;
}

/** Version 1 leaf states whose place changed in version 2; the others kept their path. */
const MOVED_STATES: Record<string, unknown> = {
  reserving: { reserving: 'reservingStock' },
  charging: { charging: 'calling' },
  'cancelling.retrying': { cancelling: 'waiting' },
  'cancelling.queued': { cancelling: 'waiting' },
  // Final in version 1; version 2 watches only payments it saw go unanswered.
  failed: { failed: 'closed' },
};

function pathOf(value: unknown): string {
  if (typeof value === 'string') return value;
  const [key, child] = Object.entries(value as Record<string, unknown>)[0] as [string, unknown];
  return `${key}.${pathOf(child)}`;
}

/**
 * Brings a payment snapshot written by machine version 1 to version 2, so payments in
 * flight or at rest when the service was upgraded carry on: states that moved are
 * mapped, context fields that did not exist are filled, and the retry policy is today's.
 * An unanswered refund that was waiting for its retry asks the PG again when woken.
 */
export function upgradeFromVersion1(snapshot: StoredSnapshot, retry: RetryPolicy): StoredSnapshot {
  const path = pathOf(snapshot.value);
  const context = snapshot.context;
  const { refundQueued: _refundQueued, ...kept } = context;
  const upgraded: Omit<PaymentContext, 'retry'> & { retry: RetryPolicy } = {
    ...(kept as unknown as PaymentContext),
    retry,
    // Only an inquiry says a charge went unanswered; version 1 kept no other trace of it.
    chargeUnanswered: path.startsWith('inquiring'),
    sentWaitedMs: Number(context.inquiryWaitedMs ?? 0),
    inquiryAlerted: false,
    lateChecks: 0,
    voidAmount: null,
  };
  const moved = MOVED_STATES[path];
  return {
    ...snapshot,
    ...(moved === undefined ? {} : { value: moved }),
    // A version 1 failed payment was done; its version 2 state rests but is not final.
    ...(path === 'failed' ? { status: 'active', output: undefined } : {}),
    context: upgraded as unknown as Record<string, unknown>,
  };
}
