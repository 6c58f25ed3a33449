import type { InquiryOutput } from '../../machines/payment.machine.ts';
import type { LookupResult } from '../pg/pg-client.ts';

/** What the PG's record of a payment means for the charge: the one reading of GET /payments/{id}. */
export function toInquiryOutput(result: LookupResult): InquiryOutput {
  if (result.kind !== 'found') return result;
  switch (result.status) {
    case 'PAID':
    case 'PARTIAL_CANCELLED':
      return { kind: 'paid', pgTxId: result.pgTxId };
    // Charged and already given back in full: nothing is owed, like a failed charge.
    case 'CANCELLED':
    case 'FAILED':
      return { kind: 'failed' };
    case 'READY':
    case 'PENDING':
      return { kind: 'pending' };
  }
}
