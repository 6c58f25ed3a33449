import { parseArgs } from 'node:util';
import { ConfigError, loadMockPgConfig } from '../config.ts';
import { createLogger } from '../logger.ts';
import { createMockPg } from './mock-pg.ts';

// Each flag overrides the environment variable of the same meaning, so both go through
// one validation.
const FLAG_TO_ENV = {
  'failure-rate': 'CHAOS_FAILURE_RATE',
  'delay-rate': 'CHAOS_DELAY_RATE',
  'delay-ms': 'CHAOS_DELAY_MS',
  'ambiguous-rate': 'CHAOS_AMBIGUOUS_RATE',
  'cancel-refusal-rate': 'CHAOS_CANCEL_REFUSAL_RATE',
  seed: 'CHAOS_SEED',
  port: 'PG_MOCK_PORT',
} as const;

function loadConfig() {
  const { values } = parseArgs({
    options: Object.fromEntries(Object.keys(FLAG_TO_ENV).map((flag) => [flag, { type: 'string' as const }])),
  });
  const overrides = Object.entries(FLAG_TO_ENV).flatMap(([flag, env]) => {
    const value = values[flag];
    return typeof value === 'string' ? [[env, value]] : [];
  });
  return loadMockPgConfig({ ...process.env, ...Object.fromEntries(overrides) });
}

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.LOG_LEVEL, 'mock-pg', { format: config.LOG_FORMAT });
  const mockPg = createMockPg({
    secret: config.PG_SECRET,
    storeId: config.PG_STORE_ID,
    webhookSecret: config.PG_WEBHOOK_SECRET,
    webhookUrl: config.PG_WEBHOOK_URL,
    chaos: {
      failureRate: config.CHAOS_FAILURE_RATE,
      delayRate: config.CHAOS_DELAY_RATE,
      delayMs: config.CHAOS_DELAY_MS,
      ambiguousRate: config.CHAOS_AMBIGUOUS_RATE,
      cancelRefusalRate: config.CHAOS_CANCEL_REFUSAL_RATE,
      seed: config.CHAOS_SEED,
    },
    logger,
  });
  const baseUrl = await mockPg.listen(config.PG_MOCK_PORT, config.HOST);
  // Parsed by the process that started this one: keep the wording.
  process.stdout.write(`mock-pg listening on ${baseUrl}\n`);

  const shutdown = (signal: NodeJS.Signals) => {
    logger.info({ signal }, 'shutting down');
    mockPg.close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
}

main().catch((err: unknown) => {
  process.stderr.write(`mock-pg: ${err instanceof ConfigError ? err.message : String(err)}\n`);
  process.exit(1);
});
