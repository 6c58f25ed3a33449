import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { sqliteSql } from '../../db/sql.ts';
import { checkInvariants } from '../invariants/check-invariants.ts';
import { fetchLedger } from '../invariants/ledger.ts';
import { createCluster, type Cluster } from './cluster.ts';
import { checkClientExpectations, listPayments } from './expectations.ts';
import { createHttpClient, type HttpClient } from './http-client.ts';
import { startMerchant, type FeedEvent, type Merchant } from './merchant.ts';
import { startKiller } from './killer.ts';
import { runLoad } from './load.ts';
import { parseOptions, USAGE, UsageError, type Options } from './options.ts';
import { planLoad, type ProductSpec } from './plan.ts';
import { startProgress, type Phase } from './progress.ts';
import { buildReport, writeReport, type ChaosReport } from './report.ts';
import { waitForRest } from './rest.ts';
import { createRunStats } from './stats.ts';
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

/** Every payment event in the service's outbox, through the pull feed. */
async function allEvents(http: HttpClient, adminToken: string): Promise<FeedEvent[]> {
  const events: FeedEvent[] = [];
  let after = '0';
  for (;;) {
    const reply = await http.send('GET', `/v1/admin/events?limit=500&after=${after}`, { headers: { authorization: `Bearer ${adminToken}` } });
    const page = reply.body as { data: FeedEvent[]; nextCursor: string };
    events.push(...page.data);
    if (page.data.length < 500) return events;
    after = page.nextCursor;
  }
}

/** Waits until the merchant has every event of the outbox, or the deadline. */
async function waitForDeliveries(http: HttpClient, merchant: Merchant, adminToken: string, deadlineMs: number): Promise<FeedEvent[]> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const events = await allEvents(http, adminToken);
    if (merchant.hasAll(events) || Date.now() > deadline) return events;
    await sleep(1_000);
  }
}

async function createProducts(http: HttpClient, products: ProductSpec[], adminToken: string): Promise<void> {
  for (const product of products) {
    const reply = await http.send('POST', '/v1/products', { body: product, headers: { authorization: `Bearer ${adminToken}` } });
    if (reply.status !== 201) throw new Error(`creating product ${product.id} answered ${reply.status}`);
  }
}

/** Payments by status straight from the database file, for the progress display. */
function statusCounter(db: Database.Database): () => Record<string, number> {
  const query = db.prepare('select status, count(*) as n from payments group by status');
  let last: Record<string, number> = {};
  return () => {
    try {
      last = Object.fromEntries((query.all() as Array<{ status: string; n: number }>).map(({ status, n }) => [status, n]));
    } catch {
      // A busy moment of the writer: show the last counts rather than stop the run.
    }
    return last;
  };
}

async function run(options: Options, cluster: Cluster, merchant: Merchant, keptDir: string | null): Promise<ChaosReport> {
  const startedAt = Date.now();
  const stats = createRunStats();
  let phase: Phase = 'starting';
  let statuses: () => Record<string, number> = () => ({});
  const progress = startProgress({ phase: () => phase, stats, statuses: () => statuses() });
  let db: Database.Database | undefined;
  let http: HttpClient | undefined;
  try {
    await cluster.start();
    db = new Database(cluster.dbPath, { readonly: true, fileMustExist: true });
    statuses = statusCounter(db);
    http = createHttpClient(cluster.serviceUrl, stats.http);
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
            restart: () => cluster.restartService(),
            onKill: () => {
              stats.kills.done++;
              stats.kills.atMs.push(Date.now() - loadStartedAt);
            },
          });
    const deadlineMs = options.deadlineSeconds * 1000;
    const loading = runLoad({ http, plan, stats, concurrency: options.concurrency, settleDeadlineMs: deadlineMs });
    const load = await (killer ? Promise.race([loading, killer.failed]) : loading).finally(() => killer?.stop());

    const restStartedAt = Date.now();
    phase = 'waiting for rest';
    const atRest = await waitForRest(http, deadlineMs);
    phase = 'waiting for webhooks';
    const events = await waitForDeliveries(http, merchant, cluster.adminToken, deadlineMs);

    const checkStartedAt = Date.now();
    phase = 'checking';
    const ledger = await fetchLedger(cluster.pgUrl, cluster.pgSecret);
    const invariants = await checkInvariants(sqliteSql(db), ledger);
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
      merchant: merchant.report(events),
      tempDir: keptDir,
    });
  } finally {
    progress.stop();
    db?.close();
    await http?.close();
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
      if (keep) process.stderr.write(`kept ${dir} (paystate.db, service.log, mock-pg.log)\n`);
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
