import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type Config } from '../../src/config.ts';
import { createLogger, type Logger } from '../../src/logger.ts';
import { createMockPg, type MockPg, type MockPgOptions } from '../../src/mock-pg/mock-pg.ts';
import { startService, type RunningService } from '../../src/service.ts';
import { startFaultyProxy, type FaultyProxy } from './faulty-proxy.ts';
import { newPostgresDatabase, testDialect } from './test-database.ts';

export const ADMIN_TOKEN = 'test-admin-token-0123456789';
export const PG_SECRET = 'test-pg-secret';
export const PG_STORE_ID = 'store-test';
export const WEBHOOK_SECRET = 'whsec_dGVzdC13ZWJob29rLXNlY3JldC1mb3ItcGF5c3RhdGU=';

export interface Reply {
  status: number;
  headers: Headers;
  body: any;
}

export interface Harness {
  url: string;
  config: Config;
  mock: MockPg;
  /** Between the service and the mock PG when started with `{ proxy: true }`. */
  proxy: FaultyProxy | undefined;
  service: RunningService;
  dbPath: string;
  request(method: string, path: string, options?: { body?: unknown; raw?: string; headers?: Record<string, string> }): Promise<Reply>;
  createProduct(product: { id: string; price: number; stock: number; partnerId?: string; name?: string }): Promise<Reply>;
  pay(key: string, body: unknown, query?: string): Promise<Reply>;
  /** Polls until the payment is no longer in flight (processing, cancel_requested), or throws after `timeoutMs`. */
  settled(paymentId: string, timeoutMs?: number): Promise<any>;
  /** Stops the service (as a crash would leave the database) and starts a new one on the same file. */
  restart(env?: Record<string, string>): Promise<void>;
  /** A second service on the same database file and PG, as another process would be; stopped by close(). */
  startPeer(instanceId: string, env?: Record<string, string>): Promise<RunningService>;
  close(): Promise<void>;
}

/**
 * A real service on a fresh database (a SQLite file; in the `postgres` test project, a new
 * PostgreSQL database), talking to a real mock PG, both on port 0.
 */
export async function startHarness(
  env: Record<string, string> = {},
  mockOptions: Partial<MockPgOptions> = {},
  { proxy: withProxy = false, logger: given }: { proxy?: boolean; logger?: Logger } = {},
): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'paystate-test-'));
  const dbPath = join(dir, 'paystate.db');
  const mock = createMockPg({ secret: PG_SECRET, storeId: PG_STORE_ID, webhookSecret: WEBHOOK_SECRET, ...mockOptions });
  const mockUrl = await mock.listen(0, '127.0.0.1');
  const proxy = withProxy ? await startFaultyProxy(mockUrl) : undefined;
  const pgUrl = proxy?.url ?? mockUrl;
  const configEnv = {
    PORT: '0',
    INSTANCE_ID: `test-${randomUUID()}`,
    DATABASE_PATH: dbPath,
    ...(testDialect === 'postgres' ? { DATABASE_URL: await newPostgresDatabase() } : {}),
    PG_BASE_URL: pgUrl,
    PG_SECRET,
    PG_STORE_ID,
    PG_WEBHOOK_SECRET: WEBHOOK_SECRET,
    ADMIN_TOKEN,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    PG_TIMEOUT_MS: '1000',
    RETRY_BASE_MS: '20',
    RETRY_CAP_MS: '200',
    PG_NOT_FOUND_GRACE_MS: '100',
    SCHEDULER_INTERVAL_MS: '20',
    ...env,
  };
  const config = loadConfig(configEnv);
  const logger = given ?? createLogger(config.LOG_LEVEL, 'paystate-test');
  let service = await startService(config, logger);
  const peers: RunningService[] = [];

  const request: Harness['request'] = async (method, path, options = {}) => {
    const headers: Record<string, string> = { ...options.headers };
    let body: string | undefined = options.raw;
    if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers['content-type'] ??= 'application/json';
    }
    const response = await fetch(`${harness.url}${path}`, { method, headers, body });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON (metrics)
    }
    return { status: response.status, headers: response.headers, body: parsed };
  };

  const harness: Harness = {
    url: service.url,
    config,
    mock,
    proxy,
    service,
    dbPath,
    request,
    createProduct: ({ partnerId = 'partner-1', name, ...rest }) =>
      request('POST', '/v1/products', {
        body: { name: name ?? `Product ${rest.id}`, partnerId, ...rest },
        headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      }),
    pay: (key, body, query = '') =>
      request('POST', `/v1/payments${query}`, { body, headers: { 'idempotency-key': key } }),
    async settled(paymentId, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const { body } = await request('GET', `/v1/payments/${paymentId}`);
        if (body.status !== 'processing' && body.status !== 'cancel_requested') return body;
        if (Date.now() > deadline) throw new Error(`payment ${paymentId} still ${body.state} after ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    async restart(overrides = {}) {
      await harness.service.stop();
      service = await startService(loadConfig({ ...configEnv, ...overrides }), logger);
      harness.service = service;
      harness.url = service.url;
    },
    async startPeer(instanceId, overrides = {}) {
      const peer = await startService(loadConfig({ ...configEnv, INSTANCE_ID: instanceId, ...overrides }), logger.child({ instance: instanceId }));
      peers.push(peer);
      return peer;
    },
    async close() {
      await Promise.all(peers.map((peer) => peer.stop()));
      await harness.service.stop();
      await proxy?.close();
      await mock.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return harness;
}

export const purchase = (productId: string, quantity = 1, billingKey = 'bk_test_ok', customerId = 'c-1') => ({
  customerId,
  items: [{ productId, quantity }],
  billingKey,
});
