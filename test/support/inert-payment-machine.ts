import { fromPromise } from 'xstate';
import { paymentMachine } from '../../machines/payment.machine.ts';

/** A step that never settles: a payment restored into it stays there. */
export const neverSettles = fromPromise<never, unknown>(() => new Promise<never>(() => {})) as never;

/**
 * The payment machine with steps that never settle, unless `steps` gives some: a restored
 * actor shows the state it was restored to, and its children the steps it restarted.
 */
export function inertPaymentMachine(steps: Partial<Parameters<typeof paymentMachine.provide>[0]['actors']> = {}) {
  return paymentMachine.provide({
    actors: {
      reserveStock: neverSettles,
      chargePayment: neverSettles,
      inquirePgStatus: neverSettles,
      fulfilOrder: neverSettles,
      voidCharge: neverSettles,
      releaseStock: neverSettles,
      refundPayment: neverSettles,
      ...steps,
    },
  });
}
