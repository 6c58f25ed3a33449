import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DATABASES, runName, type DatabaseKind, type Setup } from './setup.ts';
import { SETTLEMENT_LOAD_PER_SEC } from './settlement.ts';
import type { ProfileTarget } from './stack.ts';

export const PARTS = ['clean', 'events', 'bound', 'chaos', 'recovery', 'memory', 'settlement'] as const;
export type Part = (typeof PARTS)[number];

/** Payments per part: the issue's sizes, and a small set that runs in well under two minutes. */
const FULL_SIZES: Record<Part, number> = { clean: 20_000, events: 20_000, bound: 20_000, chaos: 3_000, recovery: 10_000, memory: 100_000, settlement: 10_000 };
const QUICK_SIZES: Record<Part, number> = { clean: 2_000, events: 2_000, bound: 2_000, chaos: 500, recovery: 1_000, memory: 5_000, settlement: 1_000 };

/**
 * The parts that take `--database postgres` and `--instances N` (above 1). The bare
 * pipeline is SQLite only; memory is one process's RSS; the webhook relay, the chaos
 * part's inquiries and the settlement cron are measured on one process.
 */
const TAKES_POSTGRES: readonly Part[] = ['clean', 'events', 'chaos', 'recovery', 'memory', 'settlement'];
const TAKES_INSTANCES: readonly Part[] = ['clean', 'recovery'];

/** A command line the bench cannot run: printed without a stack trace. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export interface BenchOptions {
  /** Sizes other than the full ones (--quick, --payments): below those the targets are stated for. */
  quick: boolean;
  parts: Part[];
  reportPath: string;
  concurrency: number;
  sizes: Record<Part, number>;
  profileDir: string | undefined;
  /** Every combination of --database and --instances, in the order given; each part runs on each. */
  setups: Setup[];
  /** --env: the environment of every service process, over the part's own settings. */
  serviceEnv: Record<string, string>;
  products: number;
}

/** What one part needs to know. */
export interface PartContext {
  payments: number;
  /** Products the payments buy, evenly: each is one stock row every payment of it updates. */
  products: number;
  concurrency: number;
  profile: ProfileTarget | undefined;
  setup: Setup;
  serviceEnv: Record<string, string>;
}

export function partContext(options: BenchOptions, part: Part, setup: Setup): PartContext {
  return {
    payments: options.sizes[part],
    products: options.products,
    concurrency: options.concurrency,
    profile: options.profileDir ? { dir: resolve(options.profileDir, runName(part, setup)) } : undefined,
    setup,
    serviceEnv: options.serviceEnv,
  };
}

export const HELP = `Usage: npm run bench -- [options]

Benchmarks Paystate through its HTTP API against the mock PG (SQLITE_SYNCHRONOUS=FULL).
Each part starts its own mock PG and service on a fresh temp database. With --database
postgres, a throwaway PostgreSQL cluster starts once for the run (Debian's postgresql
package), a new database per part.

Parts (all by default):
  clean     completed payments/s for ${FULL_SIZES.clean} payments; p50/p99 of the 202 ack and of ack → completed;
            the CPU each process spent per payment (service, mock PG, bench client, PostgreSQL)
  events    the clean path with one merchant webhook endpoint taking every event (a local
            receiver): eventsCost = 1 − events / clean payments/s
  bound     the same load through scripts/bench/bare-pipeline.ts (same HTTP, PG call and SQLite
            writes, no actors); overheadRatio = clean / bound
  chaos     33 % of PG charges hang 60 s, ${FULL_SIZES.chaos} payments twice: rested payments/s from a
            closed loop, and p99 ack → rest of the undelayed from an open loop at a fixed rate
  recovery  seconds from restart to all at rest for ${FULL_SIZES.recovery} payments in flight at a SIGKILL;
            with --instances N above 1: a SIGKILL of one of N processes, and seconds from it until
            the others have brought every payment to rest
  memory    RSS of the service with ${FULL_SIZES.memory} payments hibernated in inquiry, 30 s after
            they hibernated
  settlement  seconds to settle a day of ${FULL_SIZES.settlement} payments (figures and the PG check), and
            the payment API's 202 p99 at ${SETTLEMENT_LOAD_PER_SEC}/s without a run and during it

Options:
  --quick              every part at a small size (${Object.entries(QUICK_SIZES).map(([k, v]) => `${k} ${v}`).join(', ')})
  --only LIST          comma-separated subset of: ${PARTS.join(',')}
  --payments N         every part at N payments instead (a check at a small size)
  --products N         products the payments buy, one unit each, evenly (default 8): each is
                       a stock row that every payment of it updates
  --report FILE        where to write the JSON report (default reports/bench.json)
  --concurrency N      concurrent HTTP clients (default 128)
  --profile DIR        CPU-profile the service (and the bare pipeline) with V8, write the
                       profiles to DIR/<part>/ (DIR/<part>-<database>-<instances>/ off the
                       default setup) and print their hottest functions; on PostgreSQL the
                       clean part also prints its statements per payment (pg_stat_statements)
  --database LIST      sqlite (default), postgres, or both: sqlite,postgres
  --instances LIST     service processes sharing the database, e.g. 1,2,3 (default 1); with
                       several, requests go round robin over them. Each part runs once per
                       database and instance count. Parts that take postgres: ${TAKES_POSTGRES.join(', ')};
                       more than one instance: ${TAKES_INSTANCES.join(', ')}. Others refuse them.
  --env NAME=VALUE     environment of every service process, over the part's own settings;
                       repeatable (e.g. --env LEASE_TTL_MS=5000)
  --help               this text

Same-run comparison of the clean path (the ratio postgres ×1 / sqlite ×1 beside its target):
  npm run bench -- --only clean --database sqlite,postgres --instances 1,2,3`;

export function parseOptions(argv: string[]): BenchOptions | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      report: { type: 'string', default: 'reports/bench.json' },
      concurrency: { type: 'string', default: '128' },
      profile: { type: 'string' },
      database: { type: 'string', default: 'sqlite' },
      instances: { type: 'string', default: '1' },
      env: { type: 'string', multiple: true, default: [] },
      payments: { type: 'string' },
      products: { type: 'string', default: '8' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) return 'help';
  const parts = values.only === undefined ? [...PARTS] : values.only.split(',').map((p) => p.trim());
  const unknown = parts.filter((p) => !(PARTS as readonly string[]).includes(p));
  if (unknown.length > 0 || parts.length === 0) throw new UsageError(`--only takes a list of ${PARTS.join(', ')}; got ${values.only}`);
  const concurrency = Number(values.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 4096) throw new UsageError('--concurrency must be 1–4096');
  const chosen = PARTS.filter((p) => parts.includes(p));
  const databases = listOption('--database', values.database, DATABASES.join(', '), (d) =>
    (DATABASES as readonly string[]).includes(d) ? (d as DatabaseKind) : undefined,
  );
  const instances = listOption('--instances', values.instances, 'counts from 1 to 99', (n) => (/^\d{1,2}$/.test(n) && Number(n) >= 1 ? Number(n) : undefined));
  refuseUntaken(chosen, databases, instances);
  const sizes = values.payments === undefined ? (values.quick ? QUICK_SIZES : FULL_SIZES) : sameSize(values.payments);
  return {
    quick: sizes !== FULL_SIZES,
    parts: chosen,
    reportPath: resolve(values.report),
    concurrency,
    sizes,
    profileDir: values.profile,
    setups: databases.flatMap((database) => instances.map((count) => ({ database, instances: count }))),
    serviceEnv: Object.fromEntries(values.env.map(envSetting)),
    products: count('--products', values.products),
  };
}

/** A comma-separated list, each item read by `read` (undefined: not allowed), no repeats. */
function listOption<T>(name: string, raw: string, what: string, read: (item: string) => T | undefined): T[] {
  const items = raw.split(',').map((item) => item.trim());
  const values = items.map(read);
  if (values.some((v) => v === undefined) || new Set(items).size !== items.length) {
    throw new UsageError(`${name} takes a comma-separated list of ${what}, without repeats; got ${raw}`);
  }
  return values as T[];
}

/** A part that cannot run on a setup asked for says so, rather than running on another one. */
function refuseUntaken(parts: Part[], databases: DatabaseKind[], instances: number[]): void {
  for (const part of parts) {
    if (databases.includes('postgres') && !TAKES_POSTGRES.includes(part)) {
      throw new UsageError(`part ${part} does not take --database postgres (it runs on SQLite only); leave it out with --only`);
    }
    if (instances.some((n) => n > 1) && !TAKES_INSTANCES.includes(part)) {
      throw new UsageError(`part ${part} does not take --instances above 1 (it measures one process); leave it out with --only`);
    }
  }
}

/** A count option: decimal digits, 1 to 9999999. */
function count(name: string, raw: string): number {
  const value = /^\d{1,7}$/.test(raw) ? Number(raw) : 0;
  if (value < 1) throw new UsageError(`${name} takes a count from 1 to 9999999; got ${raw}`);
  return value;
}

/** --payments N: every part at N payments. */
function sameSize(raw: string): Record<Part, number> {
  const payments = count('--payments', raw);
  return Object.fromEntries(PARTS.map((part) => [part, payments])) as Record<Part, number>;
}

function envSetting(setting: string): [string, string] {
  const match = /^([A-Z][A-Z0-9_]*)=(.*)$/s.exec(setting);
  if (!match) throw new UsageError(`--env takes NAME=VALUE; got ${setting}`);
  return [match[1]!, match[2]!];
}
