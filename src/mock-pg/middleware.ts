import { timingSafeEqual } from 'node:crypto';
import { bodyParser } from '@koa/bodyparser';
import type { Middleware } from 'koa';
import type { Logger } from 'pino';
import { PgApiError } from './pg-api-error.ts';

/** Maps PgApiError to PortOne's error body; anything else is an opaque 500. */
export function handleErrors(logger: Logger): Middleware {
  return async (ctx, next) => {
    try {
      await next();
    } catch (err) {
      if (err instanceof PgApiError) {
        ctx.status = err.status;
        ctx.body = err.toBody();
        return;
      }
      logger.error({ err }, 'unhandled error');
      ctx.status = 500;
      ctx.body = { type: 'INTERNAL_SERVER_ERROR', message: 'internal error' };
    }
  };
}

/** `Authorization: PortOne <secret>` on every route, the test routes included. */
export function requireSecret(secret: string): Middleware {
  const expected = Buffer.from(`PortOne ${secret}`);
  return async (ctx, next) => {
    const given = Buffer.from(ctx.get('authorization'));
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw new PgApiError(401, 'UNAUTHORIZED', 'missing or wrong Authorization header');
    }
    await next();
  };
}

/** The SDK posts JSON as text/plain (fetch's default), so the content type is ignored. */
export function parseJsonBody(): Middleware {
  return bodyParser({
    detectJSON: () => true,
    onError: (err) => {
      throw new PgApiError(400, 'INVALID_REQUEST', `body is not valid JSON: ${err.message}`);
    },
  });
}
