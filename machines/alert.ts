/** Raised by a machine, written with the transition that raised it, then posted (rule 7). */
export interface MachineAlert {
  type: 'alert';
  severity: 'warning' | 'urgent';
  title: string;
  details: Record<string, unknown>;
}
