import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { BoundResult } from './bound.ts';
import { PACED_PER_SEC, type ChaosResult } from './chaos.ts';
import type { CleanPathResult, EventsResult } from './clean-path.ts';
import type { MemoryResult } from './memory.ts';
import type { RecoveryResult } from './recovery.ts';
import { SETTLEMENT_LOAD_PER_SEC, type SettlementResult } from './settlement.ts';

export interface BenchReport {
  startedAt: string;
  quick: boolean;
  concurrency: number;
  machine: { cpus: number; node: string };
  /** The service code measured: HEAD, and whether src/, machines/ or db/ had uncommitted changes. */
  code: { commit: string; dirty: boolean } | null;
  cleanPath?: CleanPathResult;
  /** The clean path with one webhook endpoint registered. */
  events?: EventsResult;
  /** 1 − events / clean payments/s, same run. */
  eventsCost?: number;
  bound?: BoundResult;
  overheadRatio?: number;
  chaos?: ChaosResult;
  recovery?: RecoveryResult;
  memory?: MemoryResult;
  settlement?: SettlementResult;
  targets?: TargetCheck[];
  /** Parts that could not finish, with the reason. */
  failures?: Partial<Record<string, string>>;
}

export interface TargetCheck {
  name: string;
  value: number;
  target: string;
  pass: boolean;
}

/** The targets for this 2-core machine; they are stated for the full sizes. */
export function checkTargets(report: BenchReport): TargetCheck[] {
  const checks: TargetCheck[] = [];
  const check = (name: string, value: number | undefined, target: string, pass: (v: number) => boolean) => {
    if (value !== undefined) checks.push({ name, value, target, pass: pass(value) });
  };
  check('clean path payments/s', report.cleanPath?.paymentsPerSec, '≥ 2500', (v) => v >= 2500);
  check('overhead ratio', report.overheadRatio, '≥ 0.5', (v) => v >= 0.5);
  check('events cost', report.eventsCost, '≤ 0.15 of the clean path', (v) => v <= 0.15);
  check('chaos undelayed p99 ms', report.chaos?.undelayedP99Ms, `≤ 200 at ${PACED_PER_SEC}/s`, (v) => v <= 200);
  check('recovery seconds', report.recovery?.seconds, '≤ 10 (10,000 in flight)', (v) => report.recovery!.settled && v <= 10);
  check('memory RSS MB', report.memory?.rssMb, '≤ 300 (100,000 waiting)', (v) => v <= 300);
  return checks;
}

type Row = [part: string, figure: string, value: number | string, target?: TargetCheck | undefined];

function rows(report: BenchReport, targets: TargetCheck[]): Row[] {
  const target = (name: string) => targets.find((t) => t.name === name);
  const out: Row[] = [];
  const { cleanPath: clean, bound, chaos, recovery, memory, settlement } = report;
  if (clean) {
    out.push(
      ['clean', 'completed payments/s', clean.paymentsPerSec, target('clean path payments/s')],
      ['clean', `completed / sent (errors)`, `${clean.completed} / ${clean.payments} (${clean.errors})`],
      ['clean', '202 ack p50 / p99 ms', `${clean.ackP50Ms} / ${clean.ackP99Ms}`],
      ['clean', 'ack → completed p50 / p99 ms', `${clean.completeP50Ms} / ${clean.completeP99Ms}`],
    );
  }
  if (report.events) {
    const { events } = report;
    out.push(
      ['events', 'completed payments/s, one webhook endpoint', events.paymentsPerSec],
      ['events', 'events delivered / s until all delivered', `${events.eventsDelivered} / ${events.allDeliveredSeconds}`],
    );
  }
  if (report.eventsCost !== undefined) out.push(['events', 'cost: 1 − events / clean', report.eventsCost, target('events cost')]);
  if (bound) {
    out.push(
      ['bound', 'bare pipeline payments/s', bound.paymentsPerSec],
      ['bound', 'completed / sent (errors)', `${bound.completed} / ${bound.payments} (${bound.errors})`],
      ['bound', '202 ack p50 / p99 ms', `${bound.ackP50Ms} / ${bound.ackP99Ms}`],
    );
  }
  if (report.overheadRatio !== undefined) out.push(['overhead', 'clean / bound', report.overheadRatio, target('overhead ratio')]);
  if (chaos) {
    const { saturated, paced } = chaos;
    out.push(
      ['chaos', `rested payments/s (${saturated.payments}, closed loop)`, chaos.restedPerSec],
      ['chaos', 'ack → rest p50 / p99 ms (undelayed, closed loop)', `${saturated.undelayedP50Ms} / ${saturated.undelayedP99Ms}`],
      ['chaos', `ack → rest p50 / p99 ms (undelayed, ${paced.offeredPerSec}/s asked, ${paced.sentPerSec}/s sent)`, `${paced.undelayedP50Ms} / ${paced.undelayedP99Ms}`, target('chaos undelayed p99 ms')],
      ...[saturated, paced].map((phase, i): Row => [
        'chaos',
        `${i === 0 ? 'closed loop' : 'paced'}: payments / delayed / undelayed unsettled / window s`,
        `${phase.payments} / ${phase.delayed} / ${phase.undelayedUnsettled} / ${phase.windowSeconds}`,
      ]),
    );
  }
  if (recovery) {
    out.push(
      [
        'recovery',
        `s to all at rest (${recovery.payments} in flight)`,
        recovery.settled ? recovery.seconds : `> ${recovery.seconds} (${recovery.stillProcessing} still processing)`,
        target('recovery seconds'),
      ],
      ['recovery', 's to listening', recovery.listeningSeconds],
    );
  }
  if (memory) {
    out.push(
      ['memory', `RSS MB (${memory.waiting} waiting, 30 s after hibernation)`, memory.rssMb, target('memory RSS MB')],
      ['memory', 'RSS MB at hibernation / peak', `${memory.rssAtHibernationMb} / ${memory.peakRssMb}`],
      ['memory', 'actors in memory', memory.actorsInMemory],
      ['memory', 'heap used / heap total / external MB', `${memory.heapUsedMb} / ${memory.heapTotalMb} / ${memory.externalMb}`],
    );
  }
  if (settlement) {
    out.push(
      ['settlement', `s to settle a day (${settlement.paymentsSettled} payments, ${settlement.lines} lines)`, settlement.runSeconds],
      [
        'settlement',
        `202 ack p99 ms at ${SETTLEMENT_LOAD_PER_SEC}/s: no run / during the run (max, n)`,
        `${settlement.ackP99IdleMs} / ${settlement.ackP99DuringRunMs} (${settlement.ackMaxDuringRunMs}, ${settlement.paymentsDuringRun})`,
      ],
    );
  }
  return out;
}

export function printTable(report: BenchReport, targets: TargetCheck[]): void {
  const table = rows(report, targets).map(([part, figure, value, target]) => [
    part,
    figure,
    String(value),
    target ? target.target : '',
    target ? (target.pass ? 'pass' : 'MISS') : '',
  ]);
  const header = ['part', 'figure', 'value', 'target', ''];
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 2 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ');
  console.log(`\n${line(header)}\n${widths.map((w) => '─'.repeat(w)).join('  ')}`);
  for (const row of table) console.log(line(row));
  for (const [part, reason] of Object.entries(report.failures ?? {})) console.log(`${part}: FAILED (${reason})`);
  if (report.code) console.log(`\nservice code: ${report.code.commit}${report.code.dirty ? ' with uncommitted changes' : ''}`);
  if (report.quick) console.log('(--quick: sizes are below those the targets are stated for)');
}

export function writeReport(path: string, report: BenchReport): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(report, null, 2)}\n`);
}
