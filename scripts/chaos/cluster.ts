import { randomBytes } from 'node:crypto';
import { createWriteStream, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import type { ChaosSettings } from '../../src/mock-pg/mock-pg.ts';
import { freePort } from '../lib/free-port.ts';
import { SERVICE_NODE_FLAGS, startProcess, type Proc } from '../lib/processes.ts';

export interface ClusterOptions {
  /** Holds the database and the processes' logs. */
  dir: string;
  chaos: Omit<ChaosSettings, 'cancelRefusalRate'>;
  /** Overrides of the service's environment. */
  serviceEnv: Record<string, string>;
}

/** A restarted service reclaims its own leases at once instead of waiting for them to expire. */
const INSTANCE_ID = 'chaos-service';

export type Cluster = ReturnType<typeof createCluster>;

/** The mock PG and the service as child processes; `stop()` kills whatever is running, at any point. */
export function createCluster({ dir, chaos, serviceEnv }: ClusterOptions) {
  const secrets = {
    PG_SECRET: randomBytes(16).toString('hex'),
    PG_WEBHOOK_SECRET: `whsec_${randomBytes(24).toString('base64')}`,
    ADMIN_TOKEN: randomBytes(16).toString('hex'),
  };
  const dbPath = join(dir, 'paystate.db');
  const logs = { pg: createWriteStream(join(dir, 'mock-pg.log')), service: createWriteStream(join(dir, 'service.log')) };
  let pg: Proc | undefined;
  let service: Proc | undefined;
  let serviceUrl = '';
  let stopped = false;
  let serviceEnvironment: Record<string, string> = {};

  const keepLog = (proc: Proc, log: WriteStream) => {
    // Output may still arrive after the exit event, when stop() has closed the log.
    const write = (chunk: Buffer) => log.writableEnded || log.write(chunk);
    proc.child.stdout!.on('data', write);
    proc.child.stderr!.on('data', write);
  };

  async function startService(): Promise<Proc> {
    const proc = await startProcess('src/main.ts', serviceEnvironment, [], SERVICE_NODE_FLAGS);
    keepLog(proc, logs.service);
    if (stopped) await proc.kill('SIGKILL');
    return proc;
  }

  return {
    dbPath,
    adminToken: secrets.ADMIN_TOKEN,
    pgSecret: secrets.PG_SECRET,
    get serviceUrl() {
      return serviceUrl;
    },
    get pgUrl() {
      return pg?.url ?? '';
    },

    async start(): Promise<void> {
      // Chosen once: the service keeps one URL across restarts and the mock PG knows it up front.
      const port = await freePort();
      serviceUrl = `http://127.0.0.1:${port}`;
      pg = await startProcess(
        'src/mock-pg/main.ts',
        { PG_MOCK_PORT: '0', ...secrets, PG_WEBHOOK_URL: `${serviceUrl}/v1/pg/webhooks` },
        [
          '--failure-rate', String(chaos.failureRate),
          '--delay-rate', String(chaos.delayRate),
          '--delay-ms', String(chaos.delayMs),
          '--ambiguous-rate', String(chaos.ambiguousRate),
          '--seed', String(chaos.seed),
        ],
      );
      keepLog(pg, logs.pg);
      if (stopped) {
        await pg.kill('SIGKILL');
        return;
      }
      serviceEnvironment = {
        PORT: String(port),
        HOST: '127.0.0.1',
        DATABASE_PATH: dbPath,
        PG_BASE_URL: pg.url,
        ...secrets,
        INSTANCE_ID,
        LOG_LEVEL: 'warn',
        RECONCILE_CRON: '*/5 * * * * *',
        // Steps end within PG_TIMEOUT_MS; one unchanged for 30 s is stuck.
        STUCK_AFTER_MS: '30000',
        LEASE_TTL_MS: '10000',
        // The merchant refuses deliveries on purpose: retries come back within the run.
        WEBHOOK_RETRY_SCHEDULE_MS: '500,1000,2000,4000,8000,15000,30000,60000',
        ...serviceEnv,
      };
      service = await startService();
    },

    /** SIGKILL, then the same command on the same port and database. */
    async restartService(): Promise<void> {
      await service?.kill('SIGKILL');
      if (stopped) return;
      service = await startService();
    },

    /** For process exit, when nothing can be awaited any more: no child may outlive the run. */
    killNow(): void {
      for (const proc of [service, pg]) if (proc && proc.child.exitCode === null) proc.child.kill('SIGKILL');
    },

    async stop(): Promise<void> {
      stopped = true;
      await Promise.all([service?.kill('SIGKILL'), pg?.kill('SIGKILL')]);
      await Promise.all(Object.values(logs).map((log) => new Promise((resolve) => log.end(resolve))));
    },
  };
}
