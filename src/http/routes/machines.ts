import type Router from '@koa/router';
import { PAYMENT_MACHINE_VERSION, paymentMachine } from '../../../machines/payment.machine.ts';
import { SETTLEMENT_MACHINE_VERSION, settlementMachine } from '../../../machines/settlement.machine.ts';
import { exactRouter } from '../router.ts';

/** The machines' definitions as Stately's editor imports them (`toJSON()`), computed once. */
const MACHINES = {
  payment: { id: paymentMachine.id, version: PAYMENT_MACHINE_VERSION, definition: paymentMachine.toJSON() },
  settlement: { id: settlementMachine.id, version: SETTLEMENT_MACHINE_VERSION, definition: settlementMachine.toJSON() },
};

export function machineRoutes(): Router {
  const router = exactRouter();
  router.get('/v1/machines/payment', (ctx) => {
    ctx.body = MACHINES.payment;
  });
  router.get('/v1/machines/settlement', (ctx) => {
    ctx.body = MACHINES.settlement;
  });
  return router;
}
