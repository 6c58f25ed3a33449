import { request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import { afterEach, describe, expect, it } from 'vitest';
import { createEventStreams, type EventStream } from '../../src/http/sse.ts';

let server: Server | undefined;
afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

/** A server whose one route opens a stream once `ready` resolves; `opened` receives what open() returned. */
async function serve(streams: ReturnType<typeof createEventStreams>, ready: (ctx: Koa.Context) => Promise<void>, opened: (stream: EventStream | undefined) => void): Promise<string> {
  const app = new Koa();
  app.silent = true; // an aborted stream is expected here
  app.use(async (ctx) => {
    await ready(ctx);
    const stream = streams.open(ctx, () => undefined);
    opened(stream);
    stream?.send('hello', { n: 1 });
  });
  server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server!.once('listening', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
}

function get(url: string): { response: Promise<IncomingMessage>; abort: () => void } {
  const req = request(url);
  req.on('error', () => undefined);
  const response = new Promise<IncomingMessage>((resolve) => req.once('response', resolve));
  req.end();
  return { response, abort: () => req.destroy() };
}

describe('event streams', () => {
  it('sets up nothing for a client that left while the route awaited, and keeps its place free', async () => {
    const streams = createEventStreams(1);
    const results: Array<EventStream | undefined> = [];
    let first = true;
    const url = await serve(
      streams,
      // The first client leaves while its route still awaits (a database read, say).
      async (ctx) => {
        if (!first) return;
        first = false;
        await new Promise((resolve) => ctx.req.socket.once('close', resolve));
      },
      (stream) => results.push(stream),
    );
    const leaving = get(url);
    await new Promise((resolve) => setTimeout(resolve, 50));
    leaving.abort();

    const staying = get(url);
    const response = await staying.response;
    expect(response.statusCode).toBe(200);
    expect(results).toEqual([undefined, expect.anything()]);
    staying.abort();
  });
});
