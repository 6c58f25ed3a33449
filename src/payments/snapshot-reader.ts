import { upgradeFromVersion1 } from '../../machines/payment-upgrade.ts';
import { PAYMENT_MACHINE_VERSION, type RetryPolicy } from '../../machines/payment.machine.ts';

export type SnapshotReader = (json: string, machineVersion: number) => unknown;

/**
 * Reads a stored payment snapshot of any machine version this code can resume, brought to
 * the current one; undefined for a version it cannot read (a newer one: a rollback). The
 * next write stores it as the current version.
 */
export function createSnapshotReader(retry: RetryPolicy): SnapshotReader {
  return (json, machineVersion) => {
    const stored = JSON.parse(json);
    if (machineVersion === PAYMENT_MACHINE_VERSION) return stored;
    if (machineVersion === 1) return upgradeFromVersion1(stored, retry);
    return undefined;
  };
}
