import { z } from 'zod';
import type { LedgerEntry } from '../../src/mock-pg/mock-pg.ts';

const money = z.number().int();

const ledgerSchema = z.object({
  payments: z.array(
    z.object({
      paymentId: z.string(),
      status: z.enum(['READY', 'PENDING', 'PAID', 'FAILED', 'PARTIAL_CANCELLED', 'CANCELLED']),
      amount: money,
      currency: z.string(),
      paidAmount: money,
      cancelledAmount: money,
      charges: z.number().int().nonnegative(),
      pgTxId: z.string().nullable(),
      cancellations: z.array(z.object({ id: z.string(), amount: money, reason: z.string(), cancelledAt: z.string() })),
      requestedAt: z.string(),
      updatedAt: z.string(),
    }),
  ),
});

/** A ledger of 100k payments is a few tens of MB: generous, but a dead PG must not hang the caller. */
const TIMEOUT_MS = 60_000;

/** The mock PG's books (`GET /__ledger`), validated: every payment it holds and how often it took money. */
export async function fetchLedger(baseUrl: string, secret: string): Promise<LedgerEntry[]> {
  const url = `${baseUrl.replace(/\/+$/, '')}/__ledger`;
  let response: Response;
  try {
    response = await fetch(url, { headers: { authorization: `PortOne ${secret}` }, signal: AbortSignal.timeout(TIMEOUT_MS) });
  } catch (err) {
    // fetch says only "fetch failed"; the cause names the refused connection or bad address.
    const cause = err instanceof Error && err.cause instanceof Error ? err.cause : err;
    throw new Error(`cannot GET ${url}: ${cause instanceof Error ? cause.message : String(cause)}`);
  }
  if (!response.ok) throw new Error(`GET ${url} answered ${response.status}: ${(await response.text()).slice(0, 200)}`);
  const parsed = ledgerSchema.safeParse(await response.json().catch(() => undefined));
  if (!parsed.success) throw new Error(`GET ${url} did not answer a ledger: ${z.prettifyError(parsed.error)}`);
  return parsed.data.payments;
}
