import type { Context, Next } from 'koa';
import { AppError } from '../errors.ts';
import type { Logger } from '../logger.ts';

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Content Too Large',
  422: 'Unprocessable Content',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** Errors thrown by the body parser (co-body / raw-body) carry these. */
interface HttpishError {
  status?: number;
  type?: string;
}

/** Turns whatever a request throws into an RFC 9457 problem document: the one place errors meet HTTP. */
function toAppError(error: unknown): AppError | undefined {
  if (error instanceof AppError) return error;
  const { status, type } = (error ?? {}) as HttpishError;
  if (status === 413 || type === 'entity.too.large') return new AppError(413, 'payload_too_large', 'The body exceeds 64 KiB');
  if (status === 400 && (error instanceof SyntaxError || type === 'entity.parse.failed' || /JSON/i.test(String((error as Error).message)))) {
    return new AppError(400, 'invalid_json', 'The body is not valid JSON');
  }
  if (status === 415) return new AppError(415, 'unsupported_media_type', 'Send application/json');
  return undefined;
}

export function sendProblem(ctx: Context, error: AppError): void {
  ctx.status = error.status;
  ctx.type = 'application/problem+json';
  ctx.body = {
    type: `https://paystate.dev/problems/${error.code}`,
    title: TITLES[error.status] ?? 'Error',
    status: error.status,
    detail: error.message,
    code: error.code,
    errors: error.errors,
  };
}

export function problemMiddleware(logger: Logger) {
  return async (ctx: Context, next: Next): Promise<void> => {
    try {
      await next();
      // Koa and the router answer unknown routes (404) and methods (405, 501) bare.
      if (ctx.status === 404 && ctx.body === undefined) {
        sendProblem(ctx, new AppError(404, 'not_found', `No route for ${ctx.method} ${ctx.path}`));
      } else if (ctx.status === 405 || ctx.status === 501) {
        sendProblem(ctx, new AppError(405, 'method_not_allowed', `${ctx.method} is not allowed on ${ctx.path}`));
      }
    } catch (error) {
      const known = toAppError(error);
      if (known) {
        sendProblem(ctx, known);
        return;
      }
      (ctx.state.log as Logger | undefined ?? logger).error({ err: error }, 'unhandled error');
      // A 500 never shows internals.
      sendProblem(ctx, new AppError(500, 'internal_error', 'Something went wrong on our side'));
    }
  };
}
