import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';

export interface FaultyProxy {
  url: string;
  /** Every request that arrived, in order (dropped and held ones included). */
  seen: Array<{ method: string; path: string }>;
  /** Drops the next `times` requests matching before they reach the PG (a lost request). */
  dropNext(method: string, path: RegExp, times?: number): void;
  /**
   * Holds the next `times` requests matching for `ms` before passing them on, while their
   * caller gave up long ago: a request stuck in a queue that reaches the PG late.
   */
  holdNext(method: string, path: RegExp, ms: number, times?: number): void;
  close(): Promise<void>;
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** A network between the service and the mock PG that can lose requests on demand. */
export async function startFaultyProxy(target: string): Promise<FaultyProxy> {
  const rules: Array<{ method: string; path: RegExp; times: number; holdMs?: number }> = [];
  const seen: FaultyProxy['seen'] = [];
  const held = new Set<NodeJS.Timeout>();
  const server = createServer(async (req, res) => {
    seen.push({ method: req.method ?? '', path: req.url ?? '' });
    const rule = rules.find((r) => r.times > 0 && r.method === req.method && r.path.test(req.url ?? ''));
    if (rule) rule.times--;
    if (rule && rule.holdMs === undefined) {
      req.socket.destroy();
      return;
    }
    try {
      const body = await readBody(req);
      if (rule?.holdMs !== undefined) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(() => {
            held.delete(timer);
            resolve();
          }, rule.holdMs);
          held.add(timer);
        });
      }
      const headers = Object.fromEntries(
        Object.entries(req.headers).filter(([k]) => !['host', 'connection', 'content-length'].includes(k)),
      ) as Record<string, string>;
      const upstream = await request(`${target}${req.url}`, {
        method: req.method as 'GET' | 'POST',
        headers,
        body: body.length > 0 ? body : undefined,
      });
      res.writeHead(upstream.statusCode, { 'content-type': String(upstream.headers['content-type'] ?? 'application/json') });
      res.end(Buffer.from(await upstream.body.arrayBuffer()));
    } catch {
      req.socket.destroy();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    dropNext(method, path, times = 1) {
      rules.push({ method, path, times });
    },
    holdNext(method, path, ms, times = 1) {
      rules.push({ method, path, times, holdMs: ms });
    },
    async close() {
      for (const timer of held) clearTimeout(timer);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
