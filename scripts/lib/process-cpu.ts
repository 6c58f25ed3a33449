/** CPU time of processes and of the machine, from Linux's /proc (clock ticks turned into milliseconds). */
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';

const MS_PER_TICK = 1000 / Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());

interface ProcStat {
  pid: number;
  ppid: number;
  /** utime + stime: the process's own CPU, every thread. */
  ownMs: number;
  /** cutime + cstime: its children that have exited and that it has waited for. */
  reapedMs: number;
}

/** /proc/<pid>/stat, or undefined once the process is gone. */
function procStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may hold spaces: count fields after it.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ').map(Number);
  const field = (n: number) => fields[n - 3]!;
  return { pid, ppid: field(4), ownMs: (field(14) + field(15)) * MS_PER_TICK, reapedMs: (field(16) + field(17)) * MS_PER_TICK };
}

/** A process's own CPU so far (not its children's), or 0 once it is gone. */
export function ownCpuMs(pid: number): number {
  return procStat(pid)?.ownMs ?? 0;
}

export interface TreeCpu {
  /** The root, its live descendants, and every child it has reaped. */
  totalMs: number;
  /** Each live child's own CPU and that of its subtree, by pid, with its command line. */
  children: Map<number, { title: string; ms: number }>;
}

/** One pass over /proc: the CPU of `pid`'s whole process tree, child by child. */
export function treeCpu(pid: number): TreeCpu {
  const stats = readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map((name) => procStat(Number(name)))
    .filter((stat) => stat !== undefined);
  // Map.groupBy needs Node 21.
  const byParent = new Map<number, ProcStat[]>();
  for (const stat of stats) byParent.set(stat.ppid, [...(byParent.get(stat.ppid) ?? []), stat]);
  const subtree = (stat: ProcStat): number =>
    stat.ownMs + stat.reapedMs + (byParent.get(stat.pid) ?? []).reduce((sum, child) => sum + subtree(child), 0);
  const root = stats.find((stat) => stat.pid === pid);
  const children = new Map<number, { title: string; ms: number }>();
  for (const child of byParent.get(pid) ?? []) children.set(child.pid, { title: commandLine(child.pid), ms: subtree(child) });
  return { totalMs: root ? subtree(root) : 0, children };
}

function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
  } catch {
    return '(exited)';
  }
}

export interface MachineCpu {
  /** Every core's time running something (user, nice, system, interrupts), summed. */
  busyMs: number;
  /** Time the hypervisor gave this machine's cores to someone else. */
  stealMs: number;
}

/** The first line of /proc/stat: the machine's CPU time since boot. */
export function machineCpu(): MachineCpu {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number) as number[];
  return { busyMs: (user! + nice! + system! + irq! + softirq!) * MS_PER_TICK, stealMs: steal! * MS_PER_TICK };
}
