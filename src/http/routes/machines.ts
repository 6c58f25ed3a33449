import type Router from '@koa/router';
import type { AnyStateMachine } from 'xstate';
import { toMermaid } from '../../diagram/mermaid.ts';
import { PAYMENT_MACHINE_VERSION, paymentMachine } from '../../../machines/payment.machine.ts';
import { SETTLEMENT_MACHINE_VERSION, settlementMachine } from '../../../machines/settlement.machine.ts';
import { exactRouter } from '../router.ts';

/**
 * The machines' definitions as Stately's editor imports them (`toJSON()`, which leaves out
 * eventless transitions) and as a Mermaid diagram (which has them), computed once.
 */
const describe = (machine: AnyStateMachine, version: number) => ({
  id: machine.id,
  version,
  definition: machine.toJSON(),
  diagram: toMermaid(machine),
});
const MACHINES = {
  payment: describe(paymentMachine, PAYMENT_MACHINE_VERSION),
  settlement: describe(settlementMachine, SETTLEMENT_MACHINE_VERSION),
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
