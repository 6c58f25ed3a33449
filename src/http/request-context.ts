import { randomUUID } from 'node:crypto';
import type { Context, Next } from 'koa';
import type { Logger } from '../logger.ts';
import { CLIENT_CLOSED_REQUEST } from './problem.ts';

const REQUEST_ID = /^[A-Za-z0-9_.:-]{1,128}$/;

/** Probes that monitoring sends every few seconds: their request lines would drown the rest at info. */
const PROBES = new Set(['/healthz', '/metrics']);

/** Routine requests are logged at debug: the probes, and clients that left before their answer. */
const isRoutine = (ctx: Context): boolean => PROBES.has(ctx.path) || ctx.status === CLIENT_CLOSED_REQUEST;

/**
 * Gives every request an id (echoed when the client sent a sane one) and a child logger,
 * and logs one line per request once it is answered: the problem middleware inside has
 * set the final status by then, and names the problem's `code` when there is one.
 */
export function requestContext(logger: Logger) {
  const http = logger.child({ component: 'http' });
  return async (ctx: Context, next: Next): Promise<void> => {
    const given = ctx.get('x-request-id');
    const requestId = REQUEST_ID.test(given) ? given : randomUUID();
    ctx.set('X-Request-Id', requestId);
    ctx.state.requestId = requestId;
    ctx.state.log = logger.child({ requestId });
    const started = performance.now();
    try {
      await next();
    } finally {
      const line = {
        method: ctx.method,
        path: ctx.path,
        status: ctx.status,
        ms: Math.round(performance.now() - started),
        problem: ctx.state.problem as string | undefined,
        requestId,
      };
      if (isRoutine(ctx)) http.debug(line, 'request');
      else http.info(line, 'request');
    }
  };
}
