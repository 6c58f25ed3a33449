import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { waitForDeliveries } from '../../scripts/chaos/deliveries.ts';
import type { FeedEvent, MerchantReport } from '../../scripts/chaos/merchant.ts';
import { parseOptions } from '../../scripts/chaos/options.ts';
import { buildReport, type ChaosReport } from '../../scripts/chaos/report.ts';
import { createRunStats } from '../../scripts/chaos/stats.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));

let dir: string;

/** Runs `npm run chaos` as a user would (its own process), and returns its exit code and output. */
function runChaos(args: string[], timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/chaos/main.ts', ...args], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  // SIGINT lets the kit kill its own children before it exits.
  const timer = setTimeout(() => child.kill('SIGINT'), timeoutMs);
  return new Promise((resolve) =>
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    }),
  );
}

/** Short PG delays and waits (the mock PG knows a charge the moment it gets it, so a short grace before charging again is safe here). */
const SHORT_RUN = [
  '--payments', '300',
  '--concurrency', '20',
  '--failure-rate', '0.33',
  '--ambiguous-rate', '0.11',
  '--delay-rate', '0.33',
  '--delay-ms', '1500',
  '--deadline', '90',
  '--seed', '7',
  '--service-env', 'PG_NOT_FOUND_GRACE_MS=2000',
  '--service-env', 'RETRY_CAP_MS=2000',
];

/** Runs the kit with `args`, expects it to pass, and returns its report. */
async function passingRun(args: string[]): Promise<ChaosReport> {
  dir = mkdtempSync(join(tmpdir(), 'paystate-chaos-test-'));
  const reportPath = join(dir, 'chaos.json');
  const { code, stdout, stderr } = await runChaos([...SHORT_RUN, ...args, '--report', reportPath], 110_000);
  expect(code, `stdout:\n${stdout}\nstderr:\n${stderr}`).toBe(0);
  expect(stdout).toContain('verdict');
  return JSON.parse(readFileSync(reportPath, 'utf8')) as ChaosReport;
}

/** What every passing run of SHORT_RUN shows: all at rest, nothing violated, every event delivered. */
function expectCleanRun(report: ChaosReport): void {
  expect(report.verdict).toBe('pass');
  expect(report.atRest).toBe(true);
  expect(report.violations).toEqual({ total: 0, byKind: {}, list: [] });
  expect(report.clientMismatches.total).toBe(0);

  expect(report.payments.accepted).toBe(300);
  expect(report.payments.total).toBe(300);
  const endStates = Object.entries(report.payments.byStatus).filter(([, count]) => count > 0);
  expect(endStates.length).toBeGreaterThanOrEqual(3);
  expect(report.payments.byStatus.completed).toBeGreaterThan(0);
  expect(report.payments.byStatus.rejected).toBeGreaterThan(0);

  expect(report.replays.planned).toBeGreaterThan(0);
  expect(report.replays).toMatchObject({ ok: report.replays.planned, mismatched: 0 });
  expect(report.reuses).toMatchObject({ ok: report.reuses.planned, mismatched: 0 });
  expect(report.cancels.accepted).toBeGreaterThan(0);
  expect(report.cancels.errors).toEqual({});
  // The PG refuses no refund in this run: an unanswered one is asked about and sent again
  // until it lands, so no payment is left for an operator.
  expect(report.attention).toEqual([]);
  // The merchant refused a share of deliveries: every event still arrived, each payment's in sequence.
  expect(report.merchant.refused).toBeGreaterThan(0);
  expect(report.merchant).toMatchObject({ missing: [], outOfOrder: [], forged: 0 });
  expect(report.merchant.delivered).toBe(report.merchant.expected);
  expect(report.merchant.expected).toBeGreaterThanOrEqual(600);
  // The feed the merchant was checked against lists every event the database holds.
  expect(report.events.inFeed).toBe(report.events.inDatabase);
}

describe('npm run chaos', () => {
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('survives PG chaos and a kill -9 with no violations, and says so in its report', async () => {
    // The load runs for a few seconds: one kill lands in the middle of it.
    const report = await passingRun(['--kill-every', '2', '--kills', '1']);
    expectCleanRun(report);
    expect(report.options).toMatchObject({ database: 'sqlite', instances: 1 });
    expect(report.kills.done).toBeGreaterThanOrEqual(1);
    expect(report.kills.byInstance).toEqual({ 'chaos-1': report.kills.done });
  }, 120_000);

  it('runs three processes on PostgreSQL through kills, one of them for good, with no violations', async () => {
    // The first kill is for good: the other two take over its payments once their leases expire.
    const report = await passingRun(['--database', 'postgres', '--instances', '3', '--kill-every', '2', '--kills', '3', '--kill-for-good', '1']);
    expectCleanRun(report);
    expect(report.options).toMatchObject({ database: 'postgres', instances: 3 });
    expect(report.kills.done).toBeGreaterThanOrEqual(2);
    expect(report.kills.forGood).toHaveLength(1);
    const killed = Object.entries(report.kills.byInstance);
    expect(killed.every(([id]) => ['chaos-1', 'chaos-2', 'chaos-3'].includes(id))).toBe(true);
    expect(killed.reduce((sum, [, n]) => sum + n, 0)).toBe(report.kills.done);
  }, 120_000);
});

describe('the wait for webhook deliveries', () => {
  const first: FeedEvent = { id: 'evt_1', paymentId: 'pay_1', sequence: 1 };
  const second: FeedEvent = { id: 'evt_2', paymentId: 'pay_1', sequence: 2 };

  it('does not take a feed that has not listed every event of the database for the whole outbox', async () => {
    // The relay hands the second event out only after the first look at the feed.
    const feeds = [[first], [first, second]];
    let looks = 0;
    const deliveries = await waitForDeliveries(
      { feed: async () => feeds[Math.min(looks++, 1)]!, eventsInDatabase: async () => 2, delivered: () => true },
      30_000,
    );
    expect(deliveries).toEqual({ events: [first, second], inDatabase: 2 });
    expect(looks).toBe(2);
  });

  it('gives up at the deadline with what the feed lists, and the run fails for it', async () => {
    const deliveries = await waitForDeliveries({ feed: async () => [first], eventsInDatabase: async () => 2, delivered: () => true }, 0);
    expect(deliveries).toEqual({ events: [first], inDatabase: 2 });

    const merchant: MerchantReport = { expected: 1, delivered: 1, duplicates: 0, refused: 0, forged: 0, missing: [], outOfOrder: [] };
    const report = buildReport({
      options: parseOptions([])!,
      startedAt: Date.now(),
      durations: { startupMs: 0, loadMs: 0, restMs: 0, checkMs: 0, totalMs: 0 },
      atRest: true,
      products: [],
      stats: createRunStats(),
      invariants: { violations: [], payments: 0, products: 0, pgPayments: 0, byStatus: {} },
      ledger: [],
      payments: new Map(),
      merchant,
      eventsInDatabase: deliveries.inDatabase,
      tempDir: null,
    });
    expect(report.verdict).toBe('fail');
    expect(report.reasons).toEqual(['the pull feed lists 1 of the 2 events in the database']);
    expect(report.events).toEqual({ inDatabase: 2, inFeed: 1 });
  });
});
