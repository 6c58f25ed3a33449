import type { EventObject } from 'xstate';
import { isTransient } from './step-errors.ts';

/** What a step's answer said, by its `kind` (the machine's outputs, machines/payment.machine.ts). */
const ANSWERS: Record<string, (output: Record<string, unknown>) => string> = {
  reserveStock: (o) => `stock.${o.kind}`,
  chargePayment: (o) => pgAnswer(o, 'paid'),
  inquirePgStatus: (o) => (o.kind === 'found' ? `pg.status ${String(o.status)}` : pgAnswer(o, 'not_found')),
  fulfilOrder: () => 'order.fulfilled',
  releaseStock: () => 'stock.released',
  voidCharge: (o) => pgAnswer(o, 'voided'),
  refundPayment: (o) => pgAnswer(o, 'refunded'),
};

function pgAnswer(output: Record<string, unknown>, success: string): string {
  switch (output.kind) {
    case success:
      return `pg.${success}`;
    case 'declined':
      return `pg.declined ${String(output.code)}`;
    case 'refused':
      return `pg.refused ${String(output.code)}`;
    case 'unknown':
      return `pg.no_answer ${String(output.reason)}`;
    default:
      return `pg.${String(output.kind)}`;
  }
}

/**
 * Why a transition happened, in the words an operator reads in the transition log:
 * `pg.declined card_declined`, `pg.no_answer timeout`, `stock.out_of_stock`, rather than
 * `xstate.done.actor.chargePayment`. A failed step says only whether it was transient.
 * Events from outside (api.*, admin.*, timer.due)
 * are their own reason; a PG webhook says what the PG's record showed.
 */
export function transitionReason(event: EventObject): string {
  const settled = /^xstate\.(done|error)\.actor\.(\w+)$/.exec(event.type);
  if (settled) {
    const [, outcome, step] = settled as unknown as [string, 'done' | 'error', string];
    // Transient or final only: the log is public, and an error's message names tables and instances (it is logged).
    if (outcome === 'error') return `${step}.failed ${isTransient((event as { error?: unknown }).error) ? 'transient' : 'final'}`;
    const output = ((event as { output?: unknown }).output ?? {}) as Record<string, unknown>;
    return ANSWERS[step]?.(output) ?? `${step}.done`;
  }
  if (event.type === 'pg.status') {
    const record = (event as { record?: { kind?: string; status?: string } }).record;
    return record?.kind === 'found' ? `webhook: pg.status ${String(record.status)}` : 'webhook: pg.status';
  }
  return event.type;
}
