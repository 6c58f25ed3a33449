import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';

export interface FaultyProxy {
  url: string;
  /** Drops the next `times` requests matching before they reach the PG (a lost request). */
  dropNext(method: string, path: RegExp, times?: number): void;
  close(): Promise<void>;
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** A network between the service and the mock PG that can lose requests on demand. */
export async function startFaultyProxy(target: string): Promise<FaultyProxy> {
  const rules: Array<{ method: string; path: RegExp; times: number }> = [];
  const server = createServer(async (req, res) => {
    const rule = rules.find((r) => r.times > 0 && r.method === req.method && r.path.test(req.url ?? ''));
    if (rule) {
      rule.times--;
      req.socket.destroy();
      return;
    }
    try {
      const body = await readBody(req);
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
    dropNext(method, path, times = 1) {
      rules.push({ method, path, times });
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
