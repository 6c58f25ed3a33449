import { parseArgs } from 'node:util';
import { z } from 'zod';
import { DATABASES, type DatabaseKind } from '../lib/database-kind.ts';

export const USAGE = `usage: npm run chaos -- [flags]

Starts the mock PG with chaos and one or more service processes on a temporary database
(a SQLite file, or a throwaway PostgreSQL cluster), buys with bounded concurrency over
scarce stock (with replayed and reused idempotency keys and cancels; requests spread over
the processes in turn, and sent again to the next one when theirs is down or answers 503
payment_busy), optionally kills a random process with SIGKILL and restarts it, waits
until every payment is at rest, waits until a merchant's webhook endpoint has every
payment event, and checks the invariants and the events (complete, in sequence per
payment). Exit 0: no violations; 1: violations, client-side mismatches or not at rest by
the deadline; 2: the run could not be made.

  --payments N          purchases to make (2000)
  --concurrency N       purchases in flight at once (32)
  --failure-rate R      share of PG calls that fail: declines, errors, ambiguous (0.33)
  --delay-rate R        share of PG calls held for --delay-ms (0.33)
  --delay-ms MS         how long a delayed PG call is held (60000)
  --ambiguous-rate R    share of PG calls that succeed yet answer 5xx; part of --failure-rate (0.11)
  --merchant-failure-rate R  share of webhook deliveries the merchant's endpoint answers 500 (0.2)
  --database D          sqlite or postgres: a throwaway cluster in the run's directory (sqlite)
  --instances N         service processes on the one database, each with its own port and
                        INSTANCE_ID; the PG's webhooks are spread over them too (1)
  --kill-every S        SIGKILL a random service process every S seconds while the load runs,
                        and restart it (off)
  --kills N             stop killing after N kills (no cap)
  --kill-for-good N     the first N kills are not restarted: other processes take over their
                        payments once the leases expire; fewer than --instances (0)
  --deadline S          how long to wait for every payment to come to rest (300)
  --report FILE         JSON report (reports/chaos.json)
  --seed N              seed of the PG's chaos and of the load's choices (1)
  --service-env K=V     extra service environment, repeatable (e.g. PG_NOT_FOUND_GRACE_MS=2000)
  --keep                keep the temporary directory (database, logs) and print its path;
                        with postgres, also how to start the kept cluster again
  --help                show this text`;

const count = z.coerce.number().int().positive();
const rate = z.coerce.number().min(0).max(1);
const seconds = z.coerce.number().positive();
const envEntry = z.string().regex(/^[A-Z][A-Z0-9_]*=.*$/s, 'must be NAME=value');

const optionsSchema = z
  .object({
    payments: count.default(2000),
    concurrency: count.default(32),
    'failure-rate': rate.default(0.33),
    'delay-rate': rate.default(0.33),
    'delay-ms': z.coerce.number().int().nonnegative().default(60_000),
    'ambiguous-rate': rate.default(0.11),
    'merchant-failure-rate': rate.default(0.2),
    database: z.enum(DATABASES).default('sqlite'),
    instances: count.default(1),
    'kill-every': seconds.optional(),
    kills: count.optional(),
    'kill-for-good': z.coerce.number().int().nonnegative().default(0),
    deadline: seconds.default(300),
    report: z.string().min(1).default('reports/chaos.json'),
    seed: z.coerce.number().int().default(1),
    'service-env': z.array(envEntry).default([]),
    keep: z.boolean().default(false),
  })
  .refine((o) => o['ambiguous-rate'] <= o['failure-rate'], {
    path: ['ambiguous-rate'],
    message: 'cannot exceed --failure-rate (ambiguous calls are a part of the failures)',
  })
  .refine((o) => o.kills === undefined || o['kill-every'] !== undefined, { path: ['kills'], message: 'needs --kill-every' })
  .refine((o) => o['kill-for-good'] === 0 || o['kill-every'] !== undefined, { path: ['kill-for-good'], message: 'needs --kill-every' })
  .refine((o) => o['kill-for-good'] < o.instances, {
    path: ['kill-for-good'],
    message: 'must be fewer than --instances (one process at least stays alive)',
  })
  .refine((o) => o.kills === undefined || o['kill-for-good'] <= o.kills, { path: ['kill-for-good'], message: 'cannot exceed --kills' });

export interface Options {
  payments: number;
  concurrency: number;
  failureRate: number;
  delayRate: number;
  delayMs: number;
  ambiguousRate: number;
  merchantFailureRate: number;
  database: DatabaseKind;
  instances: number;
  killEverySeconds: number | undefined;
  maxKills: number | undefined;
  /** The first this many kills are not followed by a restart. */
  killForGood: number;
  deadlineSeconds: number;
  reportPath: string;
  seed: number;
  serviceEnv: Record<string, string>;
  keep: boolean;
}

export class UsageError extends Error {
  override name = 'UsageError';
}

/** Undefined when --help was asked for. */
export function parseOptions(args: string[]): Options | undefined {
  let values: Record<string, unknown>;
  try {
    const stringFlags = Object.keys(optionsSchema.shape).filter((flag) => flag !== 'keep' && flag !== 'service-env');
    values = parseArgs({
      args,
      strict: true,
      options: {
        ...Object.fromEntries(stringFlags.map((flag) => [flag, { type: 'string' as const }])),
        'service-env': { type: 'string', multiple: true },
        keep: { type: 'boolean' },
        help: { type: 'boolean' },
      },
    }).values;
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (values.help) return undefined;
  delete values.help;

  const parsed = optionsSchema.safeParse(values);
  if (!parsed.success) {
    throw new UsageError(parsed.error.issues.map((issue) => `--${String(issue.path[0])}: ${issue.message}`).join('\n'));
  }
  const o = parsed.data;
  return {
    payments: o.payments,
    concurrency: o.concurrency,
    failureRate: o['failure-rate'],
    delayRate: o['delay-rate'],
    delayMs: o['delay-ms'],
    ambiguousRate: o['ambiguous-rate'],
    merchantFailureRate: o['merchant-failure-rate'],
    database: o.database,
    instances: o.instances,
    killEverySeconds: o['kill-every'],
    maxKills: o.kills,
    killForGood: o['kill-for-good'],
    deadlineSeconds: o.deadline,
    reportPath: o.report,
    seed: o.seed,
    serviceEnv: Object.fromEntries(o['service-env'].map((entry) => [entry.slice(0, entry.indexOf('=')), entry.slice(entry.indexOf('=') + 1)])),
    keep: o.keep,
  };
}
