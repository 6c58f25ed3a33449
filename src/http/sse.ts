import { PassThrough } from 'node:stream';
import type { Context } from 'koa';
import { AppError } from '../errors.ts';

/** A comment line now and then keeps proxies from closing a quiet stream. */
const KEEP_ALIVE_MS = 15_000;

export interface EventStream {
  /** Sends `data` as JSON under the event name, unless it is what was sent last. */
  send(event: string, data: unknown): void;
}

export interface EventStreams {
  /**
   * Answers the request with a Server-Sent Events stream that stays open until the
   * client leaves or the service stops; `onClose` runs then (stop watching whatever
   * feeds the stream). 503 `too_many_streams` when `max` are open already. Undefined
   * when the client has left already (while the route awaited a read): nothing is set
   * up, and `onClose` never runs.
   */
  open(ctx: Context, onClose: () => void): EventStream | undefined;
  /** Ends every open stream (the service is stopping: they would never end by themselves). */
  endAll(): void;
}

/** The process's event streams, at most `max` at once: each holds a socket and timers. */
export function createEventStreams(max: number): EventStreams {
  const open = new Set<PassThrough>();
  return {
    open(ctx, onClose) {
      // Its close event is past: a stream set up now would never end.
      if (ctx.res.destroyed) return undefined;
      if (open.size >= max) {
        throw new AppError(503, 'too_many_streams', `This instance serves ${max} live streams already; try again shortly`);
      }
      const stream = new PassThrough();
      open.add(stream);
      const keepAlive = setInterval(() => stream.write(': keep-alive\n\n'), KEEP_ALIVE_MS);
      // The response's close: the client left (the request's fires once its body is read).
      ctx.res.once('close', () => {
        open.delete(stream);
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
          // A client that does not read is not buffered for: every frame is the whole state,
          // and the next send after it caught up (a poll repeats) carries the latest.
          if (frame === last || stream.writableNeedDrain) return;
          last = frame;
          stream.write(frame);
        },
      };
    },
    endAll() {
      for (const stream of open) stream.end();
    },
  };
}
