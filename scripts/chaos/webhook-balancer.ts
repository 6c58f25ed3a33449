import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';

/** What a PG webhook carries besides its body; the signature covers the body's exact bytes. */
const FORWARDED = ['content-type', 'webhook-id', 'webhook-timestamp', 'webhook-signature'];

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/**
 * Where the mock PG sends its webhooks: a load balancer in front of the service processes.
 * Each webhook goes to the next process in turn (`backends()`: the ones in service) and, if
 * that one does not answer at all (killed), to the next; the first answer is passed back as
 * it is, so the PG retries what was refused. 502 when no process answered.
 */
export async function startWebhookBalancer(backends: () => string[]) {
  let turn = 0;
  const server = createServer(async (req, res) => {
    const body = await readBody(req);
    const headers = Object.fromEntries(FORWARDED.flatMap((name) => (req.headers[name] === undefined ? [] : [[name, String(req.headers[name])]])));
    const urls = backends();
    for (let tried = 0; tried < urls.length; tried++) {
      try {
        const answer = await request(`${urls[turn++ % urls.length]}${req.url}`, { method: 'POST', headers, body });
        const text = await answer.body.text();
        res.writeHead(answer.statusCode, { 'content-type': String(answer.headers['content-type'] ?? 'text/plain') }).end(text);
        return;
      } catch {
        // That process is down: the next one.
      }
    }
    res.writeHead(502).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
