import { ADVISORY_LOCKS } from './locks-repo.ts';
import type { Tx } from './sql.ts';

export interface WebhookClaim {
  id: string;
  type: string;
  paymentId: string | null;
  now: number;
  /** How long the claim holds if it is never finished (the process died mid-way). */
  claimMs: number;
}

const CLAIM_RECEIPT = `insert into webhook_receipts (id, type, payment_id, received_at, status, claimed_until)
  values (@id, @type, @paymentId, @now, 'processing', @until)
  on conflict (id) do update set claimed_until = excluded.claimed_until, received_at = excluded.received_at
  where webhook_receipts.status = 'processing' and webhook_receipts.claimed_until < @now`;

/**
 * Claims a webhook id in one statement, so of many copies delivered at once exactly one
 * proceeds (`claimed`). `done`: the id was handled already. `in_progress`: another copy
 * holds the claim now; it may still fail, so this copy is not a duplicate yet.
 */
export async function claimReceipt(q: Tx, claim: WebhookClaim): Promise<'claimed' | 'done' | 'in_progress'> {
  // Copies of one webhook reach several processes at once, and their batches change stock too.
  await q.holdLock(ADVISORY_LOCKS.hotRows);
  const changed = await q.run(CLAIM_RECEIPT, {
    id: claim.id,
    type: claim.type,
    paymentId: claim.paymentId,
    now: claim.now,
    until: claim.now + claim.claimMs,
  });
  if (changed === 1) return 'claimed';
  const row = await q.get<{ status: string }>('select status from webhook_receipts where id = @id', { id: claim.id });
  return row?.status === 'done' ? 'done' : 'in_progress';
}

/** The webhook was acted on: later copies answer as duplicates. */
export async function finishReceipt(q: Tx, id: string): Promise<void> {
  await q.holdLock(ADVISORY_LOCKS.hotRows);
  await q.run(`update webhook_receipts set status = 'done' where id = @id`, { id });
}

/** The webhook could not be acted on (the PG did not answer): the PG's retry may claim it again. */
export async function releaseReceipt(q: Tx, id: string): Promise<void> {
  await q.holdLock(ADVISORY_LOCKS.hotRows);
  await q.run(`update webhook_receipts set claimed_until = 0 where id = @id and status = 'processing'`, { id });
}
