import { randomBytes } from 'node:crypto';
import { chmodSync, createWriteStream, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import type { ChaosSettings } from '../../src/mock-pg/mock-pg.ts';
import type { DatabaseTarget } from '../invariants/read-only-database.ts';
import type { DatabaseKind } from '../lib/database-kind.ts';
import { freePort } from '../lib/free-port.ts';
import { killPostmaster, postmasterPid } from '../lib/postmaster.ts';
import { postgresBin, startPostgres, type PostgresCluster } from '../lib/postgres.ts';
import { SERVICE_NODE_FLAGS, startProcess, type Proc } from '../lib/processes.ts';
import { startWebhookBalancer } from './webhook-balancer.ts';

export interface ClusterOptions {
  /** Holds the database and the processes' logs. */
  dir: string;
  database: DatabaseKind;
  /** Service processes on the one database. */
  instances: number;
  chaos: Omit<ChaosSettings, 'cancelRefusalRate'>;
  /** Overrides of the service's environment. */
  serviceEnv: Record<string, string>;
}

interface Instance {
  /** Its INSTANCE_ID: a restarted process with the same id reclaims its own leases at once. */
  id: string;
  port: number;
  log: WriteStream;
  proc: Proc | undefined;
  /** Killed and not restarted. */
  gone: boolean;
}

export type Cluster = ReturnType<typeof createCluster>;

/**
 * The mock PG, the service processes (and, on PostgreSQL, the cluster they share) as child
 * processes; `stop()` kills whatever is running, at any point.
 */
export function createCluster({ dir, database, instances: count, chaos, serviceEnv }: ClusterOptions) {
  const secrets = {
    PG_SECRET: randomBytes(16).toString('hex'),
    PG_WEBHOOK_SECRET: `whsec_${randomBytes(24).toString('base64')}`,
    ADMIN_TOKEN: randomBytes(16).toString('hex'),
  };
  const dbPath = join(dir, 'paystate.db');
  const postgresDir = join(dir, 'postgres');
  const pgLog = createWriteStream(join(dir, 'mock-pg.log'));
  const instances: Instance[] = Array.from({ length: count }, (_, i) => ({
    id: `chaos-${i + 1}`,
    port: 0,
    log: createWriteStream(join(dir, `service-${i + 1}.log`)),
    proc: undefined,
    gone: false,
  }));
  let pg: Proc | undefined;
  let postgres: PostgresCluster | undefined;
  /** The postmaster's, until the cluster has been stopped. */
  let postmaster: number | undefined;
  let balancer: Awaited<ReturnType<typeof startWebhookBalancer>> | undefined;
  let stopped = false;
  let serviceEnvironment: Record<string, string> = {};

  const keepLog = (proc: Proc, log: WriteStream) => {
    // Output may still arrive after the exit event, when stop() has closed the log.
    const write = (chunk: Buffer) => log.writableEnded || log.write(chunk);
    proc.child.stdout!.on('data', write);
    proc.child.stderr!.on('data', write);
  };
  const urlOf = (instance: Instance) => `http://127.0.0.1:${instance.port}`;
  const inService = () => instances.filter((instance) => !instance.gone);

  async function startInstance(instance: Instance): Promise<void> {
    const env = { ...serviceEnvironment, PORT: String(instance.port), INSTANCE_ID: instance.id };
    const proc = await startProcess('src/main.ts', env, [], SERVICE_NODE_FLAGS);
    keepLog(proc, instance.log);
    if (stopped) await proc.kill('SIGKILL');
    instance.proc = proc;
  }

  async function startDatabase(): Promise<Record<string, string>> {
    if (database === 'sqlite') return { DATABASE_PATH: dbPath };
    // The server runs as the postgres user when this runs as root: it must reach its directory inside this one.
    chmodSync(dir, 0o711);
    postgres = await startPostgres(postgresDir);
    postmaster = postmasterPid(postgres.dataDir);
    return { DATABASE_URL: postgres.url };
  }

  return {
    adminToken: secrets.ADMIN_TOKEN,
    pgSecret: secrets.PG_SECRET,
    /** What the checks read; valid once `start()` has resolved. */
    get database(): DatabaseTarget {
      return postgres ? { url: postgres.url } : { path: dbPath };
    },
    /** The processes' URLs, those killed for good left out (as a load balancer's health check would). */
    serviceUrls: () => inService().map(urlOf),
    get pgUrl() {
      return pg?.url ?? '';
    },

    async start(): Promise<void> {
      const databaseEnv = await startDatabase();
      if (stopped) return;
      // Chosen once: each process keeps its URL across restarts.
      for (const instance of instances) instance.port = await freePort();
      balancer = await startWebhookBalancer(() => inService().map(urlOf));
      pg = await startProcess(
        'src/mock-pg/main.ts',
        { PG_MOCK_PORT: '0', ...secrets, PG_WEBHOOK_URL: `${balancer.url}/v1/pg/webhooks` },
        [
          '--failure-rate', String(chaos.failureRate),
          '--delay-rate', String(chaos.delayRate),
          '--delay-ms', String(chaos.delayMs),
          '--ambiguous-rate', String(chaos.ambiguousRate),
          '--seed', String(chaos.seed),
        ],
      );
      keepLog(pg, pgLog);
      if (stopped) {
        await pg.kill('SIGKILL');
        return;
      }
      serviceEnvironment = {
        HOST: '127.0.0.1',
        ...databaseEnv,
        PG_BASE_URL: pg.url,
        ...secrets,
        LOG_LEVEL: 'warn',
        RECONCILE_CRON: '*/5 * * * * *',
        // Steps end within PG_TIMEOUT_MS; one unchanged for 30 s is stuck.
        STUCK_AFTER_MS: '30000',
        // The merchant refuses deliveries on purpose: retries come back within the run.
        WEBHOOK_RETRY_SCHEDULE_MS: '500,1000,2000,4000,8000,15000,30000,60000',
        ...serviceEnv,
      };
      // Together: they migrate a new database once between them.
      await Promise.all(instances.map(startInstance));
    },

    /**
     * SIGKILLs one of the processes in service, chosen by `random`, and starts the same
     * command on the same port and database, unless `forGood`. Resolves with its INSTANCE_ID.
     */
    async killOne(random: () => number, forGood: boolean): Promise<string> {
      const candidates = inService();
      const instance = candidates[Math.floor(random() * candidates.length)]!;
      if (forGood) instance.gone = true;
      await instance.proc?.kill('SIGKILL');
      if (!forGood && !stopped) await startInstance(instance);
      return instance.id;
    },

    /** For process exit, when nothing can be awaited any more: no child may outlive the run. */
    killNow(): void {
      for (const proc of [...instances.map((instance) => instance.proc), pg]) {
        if (proc && proc.child.exitCode === null) proc.child.kill('SIGKILL');
      }
      if (postmaster !== undefined) killPostmaster(postmaster);
    },

    async stop(): Promise<void> {
      stopped = true;
      await Promise.all([...instances.map((instance) => instance.proc?.kill('SIGKILL')), pg?.kill('SIGKILL')]);
      await balancer?.close();
      // A cluster still starting is stopped by the exit handler's killNow().
      if (postmaster !== undefined) {
        await postgres!.stop();
        postmaster = undefined;
      }
      const logs = [pgLog, ...instances.map((instance) => instance.log)];
      await Promise.all(logs.map((log) => new Promise((resolve) => log.end(resolve))));
    },

    /** What --keep leaves behind, for the closing message. */
    keptDescription(): string {
      const logs = `mock-pg.log, service-1…${count}.log`;
      if (!postgres) return `kept ${dir} (paystate.db, ${logs})\n`;
      const asServerUser = process.getuid?.() === 0 ? 'runuser -u postgres -- ' : '';
      return [
        `kept ${dir} (postgres/: the PostgreSQL cluster, stopped; ${logs})`,
        'start the cluster again, then read it (npm run check-invariants -- --database-url …, pg_dump, psql):',
        `  ${asServerUser}${join(postgresBin(), 'pg_ctl')} -D ${postgres.dataDir} -l ${join(postgresDir, 'server.log')} -o "-h 127.0.0.1 -p ${postgres.port} -k ${postgresDir}" start`,
        `  ${postgres.url}`,
        '',
      ].join('\n');
    },
  };
}
