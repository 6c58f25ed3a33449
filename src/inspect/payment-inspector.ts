import { createWebSocketInspector } from '@statelyai/inspect';
import type { InspectionEvent } from 'xstate';
import { createHash } from 'node:crypto';

export interface PaymentInspectorOptions {
  /** The relay's ws:// URL. */
  url: string;
  /** Only these payments, when given. */
  paymentIds: ReadonlySet<string> | undefined;
  /** Otherwise this share of payments (0–1), chosen by id: a payment is in or out every time it comes back. */
  sampleRate: number;
}

/**
 * Sends the inspection events of chosen payment actors to Stately's inspector (through
 * the local relay). A busy service would flood it: only the payments named, or a sample.
 */
export function createPaymentInspector({ url, ...choice }: PaymentInspectorOptions) {
  const inspector = createWebSocketInspector({ url });
  const chosen = watchedPayments(choice);
  return {
    /** The inspect callback for a payment's actor, or undefined when it is not watched. */
    inspectorFor(paymentId: string): ((event: InspectionEvent) => void) | undefined {
      return chosen(paymentId) ? (event) => inspector.inspect.next?.(event) : undefined;
    },
    stop: () => inspector.stop(),
  };
}

export type PaymentInspector = ReturnType<typeof createPaymentInspector>;

/** Which payments are watched: those named, or else a share of all, the same ones every time. */
export function watchedPayments({ paymentIds, sampleRate }: Omit<PaymentInspectorOptions, 'url'>): (paymentId: string) => boolean {
  return (paymentId) => (paymentIds ? paymentIds.has(paymentId) : unitOf(paymentId) < sampleRate);
}

/** A payment id's place in [0, 1): evenly spread even for ids that differ in one character. */
function unitOf(paymentId: string): number {
  return createHash('sha256').update(paymentId).digest().readUInt32BE(0) / 2 ** 32;
}
