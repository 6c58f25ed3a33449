import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { Cron } from 'croner';
import { z } from 'zod';
import { assertTimeZone } from './settlement/business-day.ts';

function isTimeZone(name: string): boolean {
  try {
    assertTimeZone(name);
    return true;
  } catch {
    return false;
  }
}

const ms = (fallback: number) => z.coerce.number().int().nonnegative().default(fallback);
const port = (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback);
const webhookSecret = z
  .string()
  .regex(/^whsec_[A-Za-z0-9+/]+={0,2}$/, 'must be whsec_ followed by base64')
  .default('whsec_cGF5c3RhdGUtbG9jYWwtd2ViaG9vay1zZWNyZXQ=');
const logFormat = z.enum(['pretty', 'json']);
export type LogFormat = z.infer<typeof logFormat>;

const serviceSchema = z.object({
  PORT: port(3000),
  HOST: z.string().default('127.0.0.1'),
  DATABASE_PATH: z.string().min(1).default('./data/paystate.db'),
  /** postgres://…: every table on PostgreSQL, shared by any number of processes; unset, SQLite at DATABASE_PATH. */
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\/\S+$/, 'must be a postgres:// or postgresql:// URL')
    .optional(),
  /** Connections of this process's PostgreSQL pool (reads, and one for the group commit's batch). */
  DATABASE_POOL_SIZE: z.coerce.number().int().min(2).max(1000).default(20),
  /**
   * PostgreSQL: how long a statement waits for another transaction's lock before it fails
   * busy (lock_timeout; 0 waits without end), as SQLITE_BUSY_TIMEOUT_MS does on SQLite.
   * An `options=-c lock_timeout=…` in DATABASE_URL wins over it.
   */
  DATABASE_LOCK_TIMEOUT_MS: ms(5_000),
  PG_BASE_URL: z.url().optional(),
  PG_MOCK_PORT: port(4100),
  PG_SECRET: z.string().min(1).default('local-mock-pg-secret'),
  PG_STORE_ID: z.string().min(1).default('store-paystate-local'),
  PG_WEBHOOK_SECRET: webhookSecret,
  PG_TIMEOUT_MS: z.coerce.number().int().positive().default(3000),
  PG_CONNECTIONS: z.coerce.number().int().positive().default(1024),
  PG_QUEUE_TIMEOUT_MS: z.coerce.number().int().positive().default(10_000),
  ADMIN_TOKEN: z.string().min(16, 'must be at least 16 characters').default('local-admin-token-change-me'),
  SQLITE_SYNCHRONOUS: z.enum(['OFF', 'NORMAL', 'FULL', 'EXTRA']).default('FULL'),
  SQLITE_BUSY_TIMEOUT_MS: ms(5_000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Unset: decided by where the log goes (defaultLogFormat). */
  LOG_FORMAT: logFormat.optional(),
  RETRY_BASE_MS: ms(500),
  RETRY_CAP_MS: ms(60_000),
  STEP_RETRIES: z.coerce.number().int().nonnegative().default(10),
  PG_NOT_FOUND_GRACE_MS: ms(30_000),
  MAX_CHARGE_ATTEMPTS: z.coerce.number().int().positive().default(3),
  INQUIRY_ALERT_AFTER_MS: ms(3_600_000),
  LATE_CHARGE_WINDOW_MS: ms(86_400_000),
  LATE_CHARGE_CHECKS: z.coerce.number().int().min(1).max(20).default(6),
  SCHEDULER_INTERVAL_MS: z.coerce.number().int().positive().default(200),
  /** Lease owner id; a restarted process with the same id takes its payments back at once. */
  INSTANCE_ID: z.string().min(1).max(200).optional(),
  /**
   * A dead process's payments move on this long after its last renewal (every third of
   * it). A live one must renew within it: keep it at least twice the longest lock wait
   * (DATABASE_LOCK_TIMEOUT_MS, SQLITE_BUSY_TIMEOUT_MS), so that a renewal queued behind a
   * batch that waited one out still lands in time.
   */
  LEASE_TTL_MS: z.coerce.number().int().positive().default(10_000),
  RECONCILE_CRON: z.string().min(1).default('* * * * *'),
  STUCK_AFTER_MS: ms(300_000),
  RECONCILE_BATCH: z.coerce.number().int().positive().default(10_000),
  WEBHOOK_TIMEOUT_MS: z.coerce.number().int().positive().default(15_000),
  WEBHOOK_RETRY_SCHEDULE_MS: z
    .string()
    .regex(/^\d+(,\d+)*$/, 'comma-separated milliseconds, e.g. 5000,300000')
    .default('5000,300000,1800000,7200000,18000000,36000000,36000000')
    .transform((list) => list.split(',').map(Number)),
  WEBHOOK_POLL_MS: z.coerce.number().int().positive().default(200),
  /** RabbitMQ: publish payment events and consume the inbox. Unset: no broker (webhooks and the pull feed still work). */
  AMQP_URL: z.url({ protocol: /^amqps?$/ }).optional(),
  AMQP_EXCHANGE: z.string().min(1).max(200).default('paystate.events'),
  AMQP_INBOX_QUEUE: z.string().min(1).max(200).default('paystate.inbox'),
  AMQP_MAX_RETRIES: z.coerce.number().int().min(0).max(20).default(3),
  AMQP_RETRY_DELAY_MS: z.coerce.number().int().positive().default(1_000),
  /** Business dates are calendar days here (an IANA zone name). */
  SETTLEMENT_TIME_ZONE: z
    .string()
    .default('Asia/Seoul')
    .refine(isTimeZone, 'an IANA time zone name, e.g. Asia/Seoul'),
  /** When the day before is settled, read in SETTLEMENT_TIME_ZONE (croner syntax, seconds first when six fields). */
  SETTLEMENT_CRON: z.string().min(1).default('0 10 0 * * *'),
  SETTLEMENT_POLL_MS: z.coerce.number().int().positive().default(1_000),
  /** How long `POST /v1/admin/settlements/run` waits for the figures before it answers 202 anyway. */
  SETTLEMENT_RUN_WAIT_MS: ms(10_000),
  /** 1: show payment actors in Stately's inspector through a relay on 127.0.0.1:INSPECT_PORT. */
  INSPECT: z.enum(['0', '1']).default('0').transform((flag) => flag === '1'),
  INSPECT_PORT: port(8080),
  /** Only these payments (comma-separated ids) … */
  INSPECT_PAYMENTS: z
    .string()
    .regex(/^[^,\s]+(,[^,\s]+)*$/, 'comma-separated payment ids')
    .transform((list) => new Set(list.split(',')))
    .optional(),
  /** … or this share of them (0–1), chosen by id. */
  INSPECT_SAMPLE: z.coerce.number().min(0).max(1).default(1),
  /** Live streams (payments' and the figures' Server-Sent Events) one process serves at once; more get 503. */
  SSE_MAX_STREAMS: z.coerce.number().int().min(1).max(100_000).default(1_000),
  /** 1: PG_BASE_URL is Paystate's own mock PG (`npm start` says so): the console may change its chaos settings. */
  PG_MOCK_CONTROLS: z.enum(['0', '1']).default('0').transform((flag) => flag === '1'),
  ALERT_WEBHOOK_URL: z.url().optional(),
  ALERT_POLL_MS: z.coerce.number().int().positive().default(1_000),
});

export type Config = z.infer<typeof serviceSchema> & { PG_BASE_URL: string; INSTANCE_ID: string; LOG_FORMAT: LogFormat };

/** Readable lines for a person at a terminal; one JSON object per line for whatever collects the logs. */
export function defaultLogFormat(stdoutIsTTY: boolean): LogFormat {
  return stdoutIsTTY ? 'pretty' : 'json';
}

const mockPgSchema = z.object({
  PG_MOCK_PORT: port(4100),
  HOST: z.string().default('127.0.0.1'),
  PG_SECRET: serviceSchema.shape.PG_SECRET,
  PG_STORE_ID: serviceSchema.shape.PG_STORE_ID,
  PG_WEBHOOK_SECRET: webhookSecret,
  PG_WEBHOOK_URL: z.url().optional(),
  CHAOS_FAILURE_RATE: z.coerce.number().min(0).max(1).default(0),
  CHAOS_DELAY_RATE: z.coerce.number().min(0).max(1).default(0),
  CHAOS_DELAY_MS: ms(60_000),
  CHAOS_AMBIGUOUS_RATE: z.coerce.number().min(0).max(1).default(0),
  CHAOS_CANCEL_REFUSAL_RATE: z.coerce.number().min(0).max(1).default(0),
  CHAOS_SEED: z.coerce.number().int().default(1),
  LOG_LEVEL: serviceSchema.shape.LOG_LEVEL,
  LOG_FORMAT: serviceSchema.shape.LOG_FORMAT,
});

export type MockPgConfig = z.infer<typeof mockPgSchema> & { LOG_FORMAT: LogFormat };

export class ConfigError extends Error {
  override name = 'ConfigError';
}

function parse<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv): z.infer<S> {
  const result = schema.safeParse(env);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  return result.data;
}

/** Parsed once at start-up; a bad value stops the process with a clear message. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, stdoutIsTTY = process.stdout.isTTY === true): Config {
  const config = parse(serviceSchema, env);
  for (const [name, pattern] of [
    ['RECONCILE_CRON', config.RECONCILE_CRON],
    ['SETTLEMENT_CRON', config.SETTLEMENT_CRON],
  ] as const) {
    try {
      new Cron(pattern, { paused: true }).stop();
    } catch (error) {
      throw new ConfigError(`invalid configuration:\n  ${name}: ${(error as Error).message}`);
    }
  }
  return {
    ...config,
    PG_BASE_URL: config.PG_BASE_URL ?? `http://127.0.0.1:${config.PG_MOCK_PORT}`,
    LOG_FORMAT: config.LOG_FORMAT ?? defaultLogFormat(stdoutIsTTY),
    // Port 0 means "any": such processes cannot recognise their previous incarnation.
    INSTANCE_ID: config.INSTANCE_ID ?? (config.PORT === 0 ? `${hostname()}:${randomUUID()}` : `${hostname()}:${config.PORT}`),
  };
}

export function loadMockPgConfig(env: NodeJS.ProcessEnv = process.env, stdoutIsTTY = process.stdout.isTTY === true): MockPgConfig {
  const config = parse(mockPgSchema, env);
  return { ...config, LOG_FORMAT: config.LOG_FORMAT ?? defaultLogFormat(stdoutIsTTY) };
}
