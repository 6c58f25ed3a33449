import type { Context } from 'koa';
import type { FailureStyle } from './chaos.ts';

/** Ends an `error` or `ambiguous` request the way an unhealthy PG does. */
export function answerFailure(ctx: Context, style: FailureStyle): void {
  if (style === 'reset') {
    ctx.respond = false;
    ctx.req.socket.resetAndDestroy();
    return;
  }
  ctx.status = style;
  ctx.body = { type: 'INTERNAL_SERVER_ERROR', message: 'the PG is temporarily unavailable' };
}
