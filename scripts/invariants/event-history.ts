import type { AnyStateNode } from 'xstate';
import { paymentMachine } from '../../machines/payment.machine.ts';
import { PUBLIC_STATUSES, type PublicStatus } from '../../machines/payment-status.ts';

/** Every state path of the payment machine with its public status (the status tag of it or an ancestor). */
function statusByPath(): Map<string, PublicStatus> {
  const byPath = new Map<string, PublicStatus>();
  const walk = (node: AnyStateNode, inherited: PublicStatus | undefined) => {
    const own = PUBLIC_STATUSES.find((status) => node.tags.includes(status)) ?? inherited;
    if (node.path.length > 0 && own) byPath.set(node.path.join('.'), own);
    for (const child of Object.values(node.states)) walk(child, own);
  };
  walk(paymentMachine.root, undefined);
  return byPath;
}

const STATUS_OF = statusByPath();

/**
 * The events a payment's transition log says it must have: `payment.created`, then one
 * `payment.<status>` for each change of public status, in order. Undefined when the log
 * names a state this machine does not have (a payment logged by an older version).
 */
export function expectedEventTypes(statesInOrder: string[]): string[] | undefined {
  const types = ['payment.created'];
  let last: PublicStatus = 'processing';
  for (const state of statesInOrder.slice(1)) {
    const status = STATUS_OF.get(state);
    if (!status) return undefined;
    if (status !== last) types.push(`payment.${status}`);
    last = status;
  }
  return types;
}
