import { request } from 'undici';
import { postApprovedPayments } from './load.ts';
import type { PartContext } from './options.ts';
import { waitUntil } from './poll.ts';
import { databaseFor, startBarePipeline, startMockPg, stockProducts, withScope } from './stack.ts';
import { perSecond, percentile, round } from './stats.ts';

export interface BoundResult {
  payments: number;
  completed: number;
  errors: number;
  paymentsPerSec: number;
  ackP50Ms: number;
  ackP99Ms: number;
}

interface StatusRow {
  status: string;
  count: number;
  lastUpdatedAt: number;
}

async function stats(url: string): Promise<StatusRow[]> {
  const response = await request(`${url}/stats`);
  return (await response.body.json()) as StatusRow[];
}

/** The clean-path load, same size and concurrency, through scripts/bench/bare-pipeline.ts. */
export function runBound(context: PartContext): Promise<BoundResult> {
  return withScope(async (scope) => {
    const database = await databaseFor(scope, 'bound', 'sqlite');
    const mock = await startMockPg(scope);
    const bare = await startBarePipeline(scope, {
      database,
      pgUrl: mock.proc.url,
      profile: context.profile,
    });
    const url = bare.proc.url;
    const products = await stockProducts(url, context);

    const load = await postApprovedPayments([url], products, context, 'bound');
    let rows: StatusRow[] = [];
    await waitUntil(
      'every bare-pipeline payment to finish',
      async () => {
        rows = await stats(url);
        return !rows.some((r) => r.status === 'processing' && r.count > 0);
      },
      180_000,
      250,
    );
    const completed = rows.find((r) => r.status === 'completed');
    const ackMs = load.accepted.map((a) => a.ackMs);
    return {
      payments: context.payments,
      completed: completed?.count ?? 0,
      errors: context.payments - load.accepted.length,
      paymentsPerSec: round(perSecond(completed?.count ?? 0, (completed?.lastUpdatedAt ?? load.startedAt) - load.startedAt)),
      ackP50Ms: round(percentile(ackMs, 50)),
      ackP99Ms: round(percentile(ackMs, 99)),
    };
  });
}
