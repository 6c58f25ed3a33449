import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

export interface ReceivedEvent {
  id: string;
  type: string;
  paymentId: string;
  sequence: number;
  data: Record<string, unknown>;
  webhookId: string;
}

export interface MerchantReceiver {
  url: string;
  /** Verified deliveries, in the order they arrived (retries included). */
  received: ReceivedEvent[];
  /** Deliveries whose signature did not verify. */
  forged: number;
  /** Every request, answered or not. */
  requests: number;
  /** The endpoint's secret, once it is registered: deliveries are verified with it. */
  secret: string | undefined;
  /** Answers this status to the next `times` deliveries (a 500, a 302…). */
  answerNext(status: number, times?: number): void;
  /** Answers every delivery with this status from now on (undefined: back to 204). */
  answerAlways(status: number | undefined): void;
  /** While true, a delivery is neither read nor answered: the sender's request stays open. */
  holdRequests(hold: boolean): void;
  close(): Promise<void>;
}

async function readBody(req: IncomingMessage): Promise<string> {
  let body = '';
  for await (const chunk of req) body += String(chunk);
  return body;
}

/** A merchant's webhook endpoint: verifies each delivery with `standardwebhooks` and records it. */
export async function startMerchantReceiver(): Promise<MerchantReceiver> {
  const next: number[] = [];
  let always: number | undefined;
  let holding = false;
  const receiver: Omit<MerchantReceiver, 'url' | 'close'> = {
    received: [],
    forged: 0,
    requests: 0,
    secret: undefined,
    answerNext(status, times = 1) {
      for (let i = 0; i < times; i++) next.push(status);
    },
    answerAlways(status) {
      always = status;
    },
    holdRequests(hold) {
      holding = hold;
    },
  };
  const server = createServer(async (req, res) => {
    receiver.requests++;
    if (holding) return; // left open until the sender gives up (or close())
    const body = await readBody(req);
    const status = next.shift() ?? always ?? 204;
    if (status >= 200 && status < 300) {
      try {
        const event = new Webhook(receiver.secret ?? 'whsec_AAAA').verify(body, req.headers as Record<string, string>) as Omit<ReceivedEvent, 'webhookId'>;
        receiver.received.push({ ...event, webhookId: String(req.headers['webhook-id']) });
      } catch {
        receiver.forged++;
        res.writeHead(400).end('bad signature');
        return;
      }
    }
    res.writeHead(status, status >= 300 && status < 400 ? { location: 'http://127.0.0.1:1/elsewhere' } : {}).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/paystate`;
  return Object.assign(receiver, {
    url,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  });
}
