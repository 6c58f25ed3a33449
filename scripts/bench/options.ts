import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { SETTLEMENT_LOAD_PER_SEC } from './settlement.ts';
import type { ProfileTarget } from './stack.ts';

export const PARTS = ['clean', 'events', 'bound', 'chaos', 'recovery', 'memory', 'settlement'] as const;
export type Part = (typeof PARTS)[number];

/** Payments per part: the issue's sizes, and a small set that runs in well under two minutes. */
const FULL_SIZES: Record<Part, number> = { clean: 20_000, events: 20_000, bound: 20_000, chaos: 3_000, recovery: 10_000, memory: 100_000, settlement: 10_000 };
const QUICK_SIZES: Record<Part, number> = { clean: 2_000, events: 2_000, bound: 2_000, chaos: 500, recovery: 1_000, memory: 5_000, settlement: 1_000 };

export interface BenchOptions {
  quick: boolean;
  parts: Part[];
  reportPath: string;
  concurrency: number;
  sizes: Record<Part, number>;
  profileDir: string | undefined;
}

/** What one part needs to know. */
export interface PartContext {
  payments: number;
  concurrency: number;
  profile: ProfileTarget | undefined;
}

export function partContext(options: BenchOptions, part: Part): PartContext {
  return {
    payments: options.sizes[part],
    concurrency: options.concurrency,
    profile: options.profileDir ? { dir: resolve(options.profileDir, part) } : undefined,
  };
}

export const HELP = `Usage: npm run bench -- [options]

Benchmarks Paystate through its HTTP API against the mock PG (SQLITE_SYNCHRONOUS=FULL).
Each part starts its own mock PG and service on a fresh temp database.

Parts (all by default):
  clean     completed payments/s for ${FULL_SIZES.clean} payments; p50/p99 of the 202 ack and of ack → completed
  events    the clean path with one merchant webhook endpoint taking every event (a local
            receiver): eventsCost = 1 − events / clean payments/s
  bound     the same load through scripts/bench/bare-pipeline.ts (same HTTP, PG call and SQLite
            writes, no actors); overheadRatio = clean / bound
  chaos     33 % of PG charges hang 60 s, ${FULL_SIZES.chaos} payments twice: rested payments/s from a
            closed loop, and p99 ack → rest of the undelayed from an open loop at a fixed rate
  recovery  seconds from restart to all at rest for ${FULL_SIZES.recovery} payments in flight at a SIGKILL
  memory    RSS of the service with ${FULL_SIZES.memory} payments hibernated in inquiry, 30 s after
            they hibernated
  settlement  seconds to settle a day of ${FULL_SIZES.settlement} payments (figures and the PG check), and
            the payment API's 202 p99 at ${SETTLEMENT_LOAD_PER_SEC}/s without a run and during it

Options:
  --quick              every part at a small size (${Object.entries(QUICK_SIZES).map(([k, v]) => `${k} ${v}`).join(', ')})
  --only LIST          comma-separated subset of: ${PARTS.join(',')}
  --report FILE        where to write the JSON report (default reports/bench.json)
  --concurrency N      concurrent HTTP clients (default 128)
  --profile DIR        CPU-profile the service (and the bare pipeline) with V8, write the
                       profiles to DIR/<part>/ and print their hottest functions
  --help               this text`;

export function parseOptions(argv: string[]): BenchOptions | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      report: { type: 'string', default: 'reports/bench.json' },
      concurrency: { type: 'string', default: '128' },
      profile: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) return 'help';
  const parts = values.only === undefined ? [...PARTS] : values.only.split(',').map((p) => p.trim());
  const unknown = parts.filter((p) => !(PARTS as readonly string[]).includes(p));
  if (unknown.length > 0 || parts.length === 0) throw new Error(`--only takes a list of ${PARTS.join(', ')}; got ${values.only}`);
  const concurrency = Number(values.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 4096) throw new Error('--concurrency must be 1–4096');
  return {
    quick: values.quick,
    parts: PARTS.filter((p) => parts.includes(p)),
    reportPath: resolve(values.report),
    concurrency,
    sizes: values.quick ? QUICK_SIZES : FULL_SIZES,
    profileDir: values.profile,
  };
}
