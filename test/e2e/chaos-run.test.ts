import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type { ChaosReport } from '../../scripts/chaos/report.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));

let dir: string;
afterEach(() => rmSync(dir, { recursive: true, force: true }));

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

describe('npm run chaos', () => {
  it('survives PG chaos and a kill -9 with no violations, and says so in its report', async () => {
    dir = mkdtempSync(join(tmpdir(), 'paystate-chaos-test-'));
    const reportPath = join(dir, 'chaos.json');
    const { code, stdout, stderr } = await runChaos(
      [
        '--payments', '300',
        '--concurrency', '20',
        '--failure-rate', '0.33',
        '--ambiguous-rate', '0.11',
        '--delay-rate', '0.33',
        '--delay-ms', '1500',
        // The load runs for a few seconds: one kill lands in the middle of it.
        '--kill-every', '2',
        '--kills', '1',
        '--deadline', '90',
        '--seed', '7',
        '--report', reportPath,
        // The mock PG knows a charge the moment it gets it, so a short grace before
        // charging again is safe here; short waits keep the run well under two minutes.
        '--service-env', 'PG_NOT_FOUND_GRACE_MS=2000',
        '--service-env', 'RETRY_CAP_MS=2000',
      ],
      110_000,
    );
    expect(code, `stdout:\n${stdout}\nstderr:\n${stderr}`).toBe(0);

    const report = JSON.parse(readFileSync(reportPath, 'utf8')) as ChaosReport;
    expect(report.verdict).toBe('pass');
    expect(report.atRest).toBe(true);
    expect(report.violations).toEqual({ total: 0, byKind: {}, list: [] });
    expect(report.clientMismatches.total).toBe(0);
    expect(report.kills.done).toBeGreaterThanOrEqual(1);

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
    expect(stdout).toContain('verdict');
  }, 120_000);
});
