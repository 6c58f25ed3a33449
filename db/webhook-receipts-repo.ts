import type { Db } from './connection.ts';
import { prepared } from './prepared.ts';

export interface WebhookClaim {
  id: string;
  type: string;
  paymentId: string | null;
  now: number;
  /** How long the claim holds if it is never finished (the process died mid-way). */
  claimMs: number;
}

/**
 * Claims a webhook id in one statement, so of many copies delivered at once exactly one
 * proceeds (`claimed`). `done`: the id was handled already. `in_progress`: another copy
 * holds the claim now; it may still fail, so this copy is not a duplicate yet.
 */
export function claimReceipt(db: Db, claim: WebhookClaim): 'claimed' | 'done' | 'in_progress' {
  const upsert = prepared(db, 'claimReceipt', () =>
    db.$client.prepare(`insert into webhook_receipts (id, type, payment_id, received_at, status, claimed_until)
      values (@id, @type, @paymentId, @now, 'processing', @until)
      on conflict (id) do update set claimed_until = excluded.claimed_until, received_at = excluded.received_at
      where webhook_receipts.status = 'processing' and webhook_receipts.claimed_until < @now`),
  );
  if (upsert.run({ ...claim, until: claim.now + claim.claimMs }).changes === 1) return 'claimed';
  const status = prepared(db, 'receiptStatus', () =>
    db.$client.prepare('select status from webhook_receipts where id = ?').pluck(),
  ).get(claim.id);
  return status === 'done' ? 'done' : 'in_progress';
}

/** The webhook was acted on: later copies answer as duplicates. */
export function finishReceipt(db: Db, id: string): void {
  prepared(db, 'finishReceipt', () =>
    db.$client.prepare(`update webhook_receipts set status = 'done' where id = ?`),
  ).run(id);
}

/** The webhook could not be acted on (the PG did not answer): the PG's retry may claim it again. */
export function releaseReceipt(db: Db, id: string): void {
  prepared(db, 'releaseReceipt', () =>
    db.$client.prepare(`update webhook_receipts set claimed_until = 0 where id = ? and status = 'processing'`),
  ).run(id);
}
