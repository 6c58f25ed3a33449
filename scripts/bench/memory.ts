import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { readMetrics, statusCounts, type StatusCounts } from './api.ts';
import { paymentBody, postPayments } from './load.ts';
import type { PartContext } from './options.ts';
import { waitUntil } from './poll.ts';
import { startServiceStack, withScope } from './stack.ts';
import { round } from './stats.ts';

export interface MemoryResult {
  payments: number;
  /** Payments still in processing (hibernated in inquiry) when RSS was read. */
  waiting: number;
  actorsInMemory: number;
  /** After SETTLE_MS of waiting: what the service holds for its waiting payments. */
  rssMb: number;
  /** The moment the actors had hibernated, the creation burst's garbage included. */
  rssAtHibernationMb: number;
  /** The most the process held at any time (VmHWM), creation included. */
  peakRssMb: number;
  /** Where the RSS is, as the service's own Node metrics see it. */
  heapUsedMb: number;
  heapTotalMb: number;
  externalMb: number;
}

function memoryOf(pid: number): { rssMb: number; peakRssMb: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status)?.[1] ?? Number.NaN);
  return { rssMb: round(kb('VmRSS') / 1024), peakRssMb: round(kb('VmHWM') / 1024) };
}

/**
 * How long RSS is watched once the actors hibernated: V8 returns the burst's garbage to the
 * system over seconds (its memory reducer), and waiting payments wait minutes.
 */
const SETTLE_MS = 30_000;

/**
 * Every charge hangs for an hour; the service gives up on it after 200 ms, asks the PG
 * (PENDING, or not found when the call was never sent) and waits at least minutes
 * before asking again, hibernated: only its row remains. RSS is read once (almost) no
 * actor is left in memory, and again SETTLE_MS later.
 */
export function runMemory(context: PartContext): Promise<MemoryResult> {
  return withScope(async (scope) => {
    const { service, url, products } = await startServiceStack(scope, 'memory', context, {
      mockFlags: ['--failure-rate', '0', '--delay-rate', '1', '--delay-ms', '3600000'],
      env: { PG_TIMEOUT_MS: '200', RETRY_BASE_MS: '600000', RETRY_CAP_MS: '3600000' },
    });
    const load = await postPayments([url], {
      count: context.payments,
      concurrency: context.concurrency,
      timeLimitMs: 600_000,
      keyPrefix: 'memory',
      body: (i) => paymentBody(i, products, `bk_bench_${i}`),
    });

    // A few waits end early (full jitter from 0) and briefly bring their actor back.
    const few = Math.max(10, Math.ceil(load.accepted.length / 1000));
    let counts: StatusCounts | undefined;
    await waitUntil(
      'the actors to hibernate',
      async () => {
        counts = await statusCounts(url);
        return counts.actorsInMemory <= few;
      },
      120_000,
      500,
    );
    const pid = service.proc.child.pid!;
    const atHibernation = memoryOf(pid);
    await sleep(SETTLE_MS);
    const memory = memoryOf(pid);
    const samples = await readMetrics(url);
    const mb = (name: string) => round((samples.get(name) ?? Number.NaN) / 2 ** 20);
    return {
      payments: load.accepted.length,
      waiting: counts!.processing,
      actorsInMemory: counts!.actorsInMemory,
      ...memory,
      rssAtHibernationMb: atHibernation.rssMb,
      heapUsedMb: mb('nodejs_heap_size_used_bytes'),
      heapTotalMb: mb('nodejs_heap_size_total_bytes'),
      externalMb: mb('nodejs_external_memory_bytes'),
    };
  });
}
