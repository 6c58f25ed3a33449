import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface AlertReceiver {
  url: string;
  received: Array<Record<string, unknown>>;
  /** Answers 500 to the next `times` posts, as a flaky chat service would. */
  failNext(times: number): void;
  close(): Promise<void>;
}

/** A local stand-in for a Slack incoming webhook that records what it was sent. */
export async function startAlertReceiver(): Promise<AlertReceiver> {
  const received: Array<Record<string, unknown>> = [];
  let failures = 0;
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      if (failures > 0) {
        failures--;
        res.writeHead(500).end('try later');
        return;
      }
      received.push(JSON.parse(body) as Record<string, unknown>);
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/alerts`,
    received,
    failNext(times) {
      failures = times;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Polls `probe` until it returns a truthy value or the deadline passes. */
export async function eventually<T>(probe: () => T | Promise<T>, timeoutMs = 10_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
