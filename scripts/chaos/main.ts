import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkInvariants } from '../invariants/check-invariants.ts';
import { fetchLedger } from '../invariants/ledger.ts';
import { createCluster, type Cluster } from './cluster.ts';
import { paymentEventCount, readDatabase, watchStatuses } from './database-reads.ts';
import { feedEvents, waitForDeliveries } from './deliveries.ts';
import { checkClientExpectations, listPayments } from './expectations.ts';
import { createHttpClient, type HttpClient } from './http-client.ts';
import { startMerchant, type Merchant } from './merchant.ts';
import { startKiller } from './killer.ts';
import { runLoad } from './load.ts';
import { parseOptions, USAGE, UsageError, type Options } from './options.ts';
import { planLoad, type ProductSpec } from './plan.ts';
import { startProgress, type Phase } from './progress.ts';
import { buildReport, writeReport, type ChaosReport } from './report.ts';
import { waitForRest } from './rest.ts';
import { createRunStats, increment } from './stats.ts';
import { formatSummary } from './summary.ts';

// Exit codes: 0 passed; 1 violations, client-side mismatches or not at rest by the deadline;
// 2 the run could not be made (usage, a process would not start); 130 interrupted.

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** The merchant's endpoint, registered through the admin API; it verifies deliveries with the secret it is given. */
async function registerMerchant(http: HttpClient, merchant: Merchant, adminToken: string): Promise<void> {
  const reply = await http.send('POST', '/v1/admin/webhook-endpoints', {
    body: { url: merchant.url, events: ['*'], description: 'chaos merchant' },
    headers: { authorization: `Bearer ${adminToken}` },
  });
  if (reply.status !== 201) throw new Error(`registering the merchant endpoint answered ${reply.status}`);
  merchant.trust((reply.body as { secret: string }).secret);
}

async function createProducts(http: HttpClient, products: ProductSpec[], adminToken: string): Promise<void> {
  for (const product of products) {
    const reply = await http.send('POST', '/v1/products', { body: product, headers: { authorization: `Bearer ${adminToken}` } });
    if (reply.status !== 201) throw new Error(`creating product ${product.id} answered ${reply.status}`);
  }
}

async function run(options: Options, cluster: Cluster, merchant: Merchant, keptDir: string | null): Promise<ChaosReport> {
  const startedAt = Date.now();
  const stats = createRunStats();
  let phase: Phase = 'starting';
  let statuses: ReturnType<typeof watchStatuses> | undefined;
  const progress = startProgress({ phase: () => phase, stats, statuses: () => statuses?.current() ?? {} });
  const http = createHttpClient(cluster.serviceUrls, stats.http);
  try {
    await cluster.start();
    statuses = watchStatuses(cluster.database);
    const plan = planLoad(options.payments, options.seed);
    await createProducts(http, plan.products, cluster.adminToken);
    await registerMerchant(http, merchant, cluster.adminToken);

    const loadStartedAt = Date.now();
    phase = 'load';
    const killer =
      options.killEverySeconds === undefined
        ? undefined
        : startKiller({
            everyMs: options.killEverySeconds * 1000,
            maxKills: options.maxKills,
            forGood: options.killForGood,
            seed: options.seed,
            killOne: cluster.killOne,
            onKill: (instanceId, forGood) => {
              stats.kills.done++;
              stats.kills.atMs.push(Date.now() - loadStartedAt);
              increment(stats.kills.byInstance, instanceId);
              if (forGood) stats.kills.forGood.push(instanceId);
            },
          });
    const deadlineMs = options.deadlineSeconds * 1000;
    const loading = runLoad({ http, plan, stats, concurrency: options.concurrency, settleDeadlineMs: deadlineMs });
    const load = await (killer ? Promise.race([loading, killer.failed]) : loading).finally(() => killer?.stop());

    const restStartedAt = Date.now();
    phase = 'waiting for rest';
    const atRest = await waitForRest(http, deadlineMs);
    phase = 'waiting for webhooks';
    const deliveries = await waitForDeliveries(
      {
        feed: () => feedEvents(http, cluster.adminToken),
        eventsInDatabase: () => readDatabase(cluster.database, paymentEventCount),
        delivered: merchant.hasAll,
      },
      deadlineMs,
    );

    const checkStartedAt = Date.now();
    phase = 'checking';
    const ledger = await fetchLedger(cluster.pgUrl, cluster.pgSecret);
    const invariants = await readDatabase(cluster.database, (q) => checkInvariants(q, ledger));
    const listing = await listPayments(http, options.payments);
    stats.mismatches.push(...checkClientExpectations(listing, load, options.payments));
    const finishedAt = Date.now();

    return buildReport({
      options,
      startedAt,
      durations: {
        startupMs: loadStartedAt - startedAt,
        loadMs: restStartedAt - loadStartedAt,
        restMs: checkStartedAt - restStartedAt,
        checkMs: finishedAt - checkStartedAt,
        totalMs: finishedAt - startedAt,
      },
      atRest,
      products: plan.products,
      stats,
      invariants,
      ledger,
      payments: listing.payments,
      merchant: merchant.report(deliveries.events),
      eventsInDatabase: deliveries.inDatabase,
      tempDir: keptDir,
    });
  } finally {
    progress.stop();
    await statuses?.stop();
    await http.close();
  }
}

async function main(): Promise<number> {
  let options: Options | undefined;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`chaos: ${error.message}\nsee npm run chaos -- --help\n`);
    return 2;
  }
  if (!options) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }

  const { keep } = options;
  const dir = mkdtempSync(join(tmpdir(), 'paystate-chaos-'));
  const cluster = createCluster({
    dir,
    database: options.database,
    instances: options.instances,
    chaos: {
      failureRate: options.failureRate,
      delayRate: options.delayRate,
      delayMs: options.delayMs,
      ambiguousRate: options.ambiguousRate,
      seed: options.seed,
    },
    serviceEnv: options.serviceEnv,
  });
  let cleaning: Promise<void> | undefined;
  const cleanUp = () =>
    (cleaning ??= cluster.stop().finally(() => {
      if (keep) process.stderr.write(cluster.keptDescription());
      else rmSync(dir, { recursive: true, force: true });
    }));
  // A crash (even an EPIPE on stderr) must not leave the service and the mock PG running.
  process.once('exit', () => {
    cluster.killNow();
    if (!keep) rmSync(dir, { recursive: true, force: true });
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      process.stderr.write(`\nchaos: ${signal}, stopping the processes\n`);
      void cleanUp().finally(() => process.exit(130));
    });
  }

  const merchant = await startMerchant({ failureRate: options.merchantFailureRate, seed: options.seed });
  try {
    const report = await run(options, cluster, merchant, keep ? dir : null);
    writeReport(options.reportPath, report);
    process.stdout.write(`\n${formatSummary(report)}\n\nreport: ${options.reportPath}\n`);
    return report.verdict === 'pass' ? 0 : 1;
  } catch (error) {
    process.stderr.write(`chaos: ${messageOf(error)}\n`);
    return 2;
  } finally {
    await cleanUp();
    await merchant.close();
  }
}

// Exit explicitly: requests of a failed run may still be retrying in the background.
process.exit(await main());
