import { PassThrough } from 'node:stream';
import type { Context } from 'koa';

/** A comment line now and then keeps proxies from closing a quiet stream. */
const KEEP_ALIVE_MS = 15_000;

export interface EventStream {
  /** Sends `data` as JSON under the event name, unless it is what was sent last. */
  send(event: string, data: unknown): void;
}

/**
 * Answers the request with a Server-Sent Events stream that stays open until the
 * client leaves; `onClose` runs then (stop watching whatever feeds the stream).
 */
export function openEventStream(ctx: Context, onClose: () => void): EventStream {
  const stream = new PassThrough();
  const keepAlive = setInterval(() => stream.write(': keep-alive\n\n'), KEEP_ALIVE_MS);
  // The response's close: the client left (the request's fires once its body is read).
  ctx.res.once('close', () => {
    clearInterval(keepAlive);
    onClose();
    stream.end();
  });
  ctx.req.socket.setTimeout(0);
  ctx.req.socket.setNoDelay(true);
  ctx.set('Cache-Control', 'no-cache, no-transform');
  ctx.type = 'text/event-stream';
  ctx.body = stream;
  let last = '';
  return {
    send(event, data) {
      const frame = `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
      if (frame === last) return;
      last = frame;
      stream.write(frame);
    },
  };
}
