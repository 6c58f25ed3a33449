import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { seededRandom } from '../../src/seeded-random.ts';

/** What the merchant saw, against the events the service's feed holds. */
export interface MerchantReport {
  /** Events the service's pull feed lists (once handed out to the endpoints). */
  expected: number;
  /** Of those, how many arrived at least once. */
  delivered: number;
  /** Arrivals of an event already received (allowed: delivery is at least once). */
  duplicates: number;
  /** Deliveries answered 500 on purpose. */
  refused: number;
  /** Deliveries whose signature did not verify. */
  forged: number;
  /** Events never received. */
  missing: string[];
  /** Payments whose events first arrived out of sequence. */
  outOfOrder: string[];
}

export interface FeedEvent {
  id: string;
  paymentId: string;
  sequence: number;
}

async function readBody(req: IncomingMessage): Promise<string> {
  let body = '';
  for await (const chunk of req) body += String(chunk);
  return body;
}

/**
 * A merchant's webhook endpoint for chaos runs: it verifies every delivery's signature
 * with `standardwebhooks`, refuses a seeded share of them (500) so that retries happen,
 * and remembers the order in which each payment's events first arrived.
 */
export async function startMerchant({ failureRate, seed }: { failureRate: number; seed: number }) {
  const refuse = seededRandom(seed ^ 0x5eed);
  let verifier: Webhook | undefined;
  const arrivals = new Map<string, number>();
  const firstSequences = new Map<string, number[]>();
  let refused = 0;
  let forged = 0;
  const server = createServer(async (req, res) => {
    const body = await readBody(req);
    if (refuse() < failureRate) {
      refused++;
      res.writeHead(500).end();
      return;
    }
    let event: FeedEvent;
    try {
      if (!verifier) throw new Error('no endpoint secret yet');
      event = verifier.verify(body, req.headers as Record<string, string>) as FeedEvent;
    } catch {
      forged++;
      res.writeHead(400).end();
      return;
    }
    const seen = arrivals.get(event.id) ?? 0;
    arrivals.set(event.id, seen + 1);
    if (seen === 0) firstSequences.set(event.paymentId, [...(firstSequences.get(event.paymentId) ?? []), event.sequence]);
    res.writeHead(204).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));

  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/paystate`,
    /** The secret the service generated for this endpoint. */
    trust(secret: string) {
      verifier = new Webhook(secret);
    },
    /** Whether every event of the feed has arrived. */
    hasAll: (events: FeedEvent[]) => events.every((event) => arrivals.has(event.id)),
    report(events: FeedEvent[]): MerchantReport {
      const outOfOrder = [...firstSequences].filter(([, sequences]) => sequences.some((s, i) => i > 0 && s < sequences[i - 1]!));
      return {
        expected: events.length,
        delivered: events.filter((event) => arrivals.has(event.id)).length,
        duplicates: [...arrivals.values()].reduce((sum, n) => sum + n - 1, 0),
        refused,
        forged,
        missing: events.filter((event) => !arrivals.has(event.id)).map((event) => event.id),
        outOfOrder: outOfOrder.map(([paymentId]) => paymentId),
      };
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export type Merchant = Awaited<ReturnType<typeof startMerchant>>;
