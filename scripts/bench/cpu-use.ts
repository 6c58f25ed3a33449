/**
 * Where the CPU went during a measured window, process by process (Linux /proc): what
 * limits a run on a machine whose cores the bench client, the mock PG, the services and
 * PostgreSQL all share.
 */
import { machineCpu, ownCpuMs, treeCpu, type TreeCpu } from '../lib/process-cpu.ts';

export interface CpuComponent {
  name: string;
  ms: number;
}

/** CPU milliseconds spent in a window, by process. */
export interface CpuUse {
  wallMs: number;
  /** Every service process together. */
  serviceMs: number;
  serviceProcesses: number;
  mockPgMs: number;
  benchClientMs: number;
  /** The postmaster's whole tree, when the run is on PostgreSQL, and how it divides. */
  postgresMs?: number;
  postgresParts?: CpuComponent[];
  /** All of the above: divided by wallMs, the cores this run kept busy on average. */
  oursMs: number;
  /** What the rest of the host ran meanwhile (the machine's busy time less ours): the noise. */
  othersMs: number;
  /** Time the hypervisor gave these cores to other machines. */
  stealMs: number;
}

export interface CpuSources {
  services: number[];
  mock: number;
  /** The postmaster, when the run is on PostgreSQL: its whole tree counts, backends that exited included. */
  postgres: number | undefined;
}

/** A PostgreSQL child by its process title: client backends are `postgres: user database host(port) …`. */
function postgresRole(title: string): string {
  if (/^postgres: \S+ \S+ \S+\(\d+\)/.test(title)) return 'backends';
  if (title.includes('walwriter')) return 'wal writer';
  return 'other server processes';
}

/** Growth of each role's CPU between two readings of the postmaster's tree; the rest is the postmaster's and exited children's. */
function postgresBreakdown(before: TreeCpu, after: TreeCpu): CpuComponent[] {
  const byRole = new Map<string, number>();
  for (const [pid, child] of after.children) {
    const role = postgresRole(child.title);
    byRole.set(role, (byRole.get(role) ?? 0) + child.ms - (before.children.get(pid)?.ms ?? 0));
  }
  const live = [...byRole.values()].reduce((sum, ms) => sum + ms, 0);
  return [
    ...[...byRole].sort((a, b) => b[1] - a[1]).map(([role, ms]) => ({ name: `PostgreSQL: ${role}`, ms })),
    { name: 'PostgreSQL: postmaster and exited processes', ms: after.totalMs - before.totalMs - live },
  ];
}

/** Reads every source now; the function it returns reads them again and gives the difference. */
export function watchCpu(sources: CpuSources): () => CpuUse {
  const read = () => ({
    at: performance.now(),
    services: sources.services.map(ownCpuMs),
    mock: ownCpuMs(sources.mock),
    client: ownCpuMs(process.pid),
    postgres: sources.postgres === undefined ? undefined : treeCpu(sources.postgres),
    machine: machineCpu(),
  });
  const before = read();
  return () => {
    const after = read();
    const sum = (values: number[]) => values.reduce((total, ms) => total + ms, 0);
    const serviceMs = sum(after.services) - sum(before.services);
    const mockPgMs = after.mock - before.mock;
    const benchClientMs = after.client - before.client;
    const postgresMs = before.postgres && after.postgres ? after.postgres.totalMs - before.postgres.totalMs : undefined;
    const oursMs = serviceMs + mockPgMs + benchClientMs + (postgresMs ?? 0);
    const rounded = (ms: number) => Math.round(ms);
    return {
      wallMs: rounded(after.at - before.at),
      serviceMs: rounded(serviceMs),
      serviceProcesses: sources.services.length,
      mockPgMs: rounded(mockPgMs),
      benchClientMs: rounded(benchClientMs),
      ...(postgresMs === undefined
        ? {}
        : {
            postgresMs: rounded(postgresMs),
            postgresParts: postgresBreakdown(before.postgres!, after.postgres!).map((c) => ({ ...c, ms: rounded(c.ms) })),
          }),
      oursMs: rounded(oursMs),
      othersMs: rounded(after.machine.busyMs - before.machine.busyMs - oursMs),
      stealMs: rounded(after.machine.stealMs - before.machine.stealMs),
    };
  };
}

/** The lines the report prints for one window: CPU ms per payment by process, and the cores in use. */
export function cpuLines(cpu: CpuUse, payments: number): Array<[figure: string, value: string]> {
  const perPayment = (ms: number) => (ms / payments).toFixed(3);
  const cores = (ms: number) => (ms / cpu.wallMs).toFixed(2);
  const lines: Array<[string, string]> = [
    [`CPU ms per payment: service (${cpu.serviceProcesses} process${cpu.serviceProcesses > 1 ? 'es' : ''})`, perPayment(cpu.serviceMs)],
    ['CPU ms per payment: mock PG', perPayment(cpu.mockPgMs)],
    ['CPU ms per payment: bench client', perPayment(cpu.benchClientMs)],
  ];
  if (cpu.postgresMs !== undefined) {
    lines.push(['CPU ms per payment: PostgreSQL', perPayment(cpu.postgresMs)]);
    for (const part of cpu.postgresParts ?? []) lines.push([`CPU ms per payment: ${part.name}`, perPayment(part.ms)]);
  }
  lines.push(
    [`CPU ms per payment: all of the above`, perPayment(cpu.oursMs)],
    [`cores busy: this run / rest of the host / steal (of ${(cpu.wallMs / 1000).toFixed(1)} s)`, `${cores(cpu.oursMs)} / ${cores(cpu.othersMs)} / ${cores(cpu.stealMs)}`],
  );
  return lines;
}
