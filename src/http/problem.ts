import type { Context, Next } from 'koa';
import { AppError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { isTransient } from '../payments/step-errors.ts';

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  431: 'Request Header Fields Too Large',
  422: 'Unprocessable Content',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
};

/** nginx's status for a request whose client closed the connection: what the request log shows. */
export const CLIENT_CLOSED_REQUEST = 499;

/** Errors of the body parser (co-body / raw-body / inflation), of node:zlib and of sockets carry these. */
interface HttpishError {
  status?: number;
  type?: string;
  code?: string;
}

/**
 * node:zlib's codes for a body that is not what its Content-Encoding says: corrupt, cut
 * short, or needing a preset dictionary (gzip and deflate); brotli's format errors.
 */
const UNDECODABLE_CODES = new Set(['Z_DATA_ERROR', 'Z_BUF_ERROR', 'Z_NEED_DICT']);
const BROTLI_FORMAT_ERROR = /^ERR__ERROR_FORMAT_/;

/**
 * How reading a request or writing its answer fails when the client hung up first: raw-body's
 * "request aborted", node's "aborted" and reset socket, the HTTP parser cut off mid-message, a
 * write to a closed socket.
 */
// ERR_STREAM_PREMATURE_CLOSE: a streamed answer (a live stream, an export) whose client left.
const CLIENT_GONE_CODES = new Set(['ECONNABORTED', 'ECONNRESET', 'HPE_INVALID_EOF_STATE', 'EPIPE', 'ERR_STREAM_PREMATURE_CLOSE']);

/**
 * The client went away: not a fault of ours or of a dependency. A dependency can fail with
 * ECONNRESET too, so the code alone is not enough: the client's own connection must be gone.
 */
function isClientAbort(error: unknown, ctx: Context | undefined): boolean {
  const { code } = (error ?? {}) as HttpishError;
  return code !== undefined && CLIENT_GONE_CODES.has(code) && ctx?.socket.destroyed === true;
}

/** A client that leaves is routine: one debug line, no stack. */
function logClientAbort(log: Logger, error: unknown): void {
  log.debug({ reason: 'client_aborted', code: (error as HttpishError).code }, 'client went away');
}

/** Turns whatever a request throws into an RFC 9457 problem document: the one place errors meet HTTP. */
function toAppError(error: unknown): AppError | undefined {
  if (error instanceof AppError) return error;
  const { status, type, code } = (error ?? {}) as HttpishError;
  if (status === 413 || type === 'entity.too.large') return new AppError(413, 'payload_too_large', 'The body exceeds 64 KiB');
  if (status === 400 && (error instanceof SyntaxError || type === 'entity.parse.failed' || /JSON/i.test(String((error as Error).message)))) {
    return new AppError(400, 'invalid_json', 'The body is not valid JSON');
  }
  // inflation's only error of its own: a Content-Encoding other than identity, gzip, deflate, br.
  if (status === 415) {
    return new AppError(415, 'unsupported_encoding', 'Send the body with Content-Encoding identity, gzip, deflate or br');
  }
  if (code !== undefined && (UNDECODABLE_CODES.has(code) || BROTLI_FORMAT_ERROR.test(code))) {
    return new AppError(400, 'invalid_encoding', 'The body does not decode as its Content-Encoding says');
  }
  // The database was busy or failed for a moment: nothing was changed, and trying again will do.
  if (isTransient(error)) {
    return new AppError(503, 'temporarily_unavailable', 'The service is busy; try again shortly', [], { cause: error });
  }
  return undefined;
}

/** The RFC 9457 body of an error. */
export function problemDocument(error: AppError) {
  return {
    type: `https://paystate.dev/problems/${error.code}`,
    title: TITLES[error.status] ?? 'Error',
    status: error.status,
    detail: error.message,
    code: error.code,
    errors: error.errors,
  };
}

export function sendProblem(ctx: Context, error: AppError): void {
  ctx.status = error.status;
  // The request line (request-context.ts) says which problem was answered.
  ctx.state.problem = error.code;
  if (error.status === 503) ctx.set('Retry-After', '1');
  ctx.type = 'application/problem+json';
  ctx.body = problemDocument(error);
}

const logOf = (ctx: Context | undefined, fallback: Logger): Logger => (ctx?.state.log as Logger | undefined) ?? fallback;

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
      if (isClientAbort(error, ctx)) {
        logClientAbort(logOf(ctx, logger), error);
        ctx.status = CLIENT_CLOSED_REQUEST;
        return;
      }
      const known = toAppError(error);
      if (known) {
        // A dependency failed (the database): a fault to look at, though the client may simply retry.
        if (known.cause !== undefined) logOf(ctx, logger).error({ err: known.cause }, known.message);
        sendProblem(ctx, known);
        return;
      }
      logOf(ctx, logger).error({ err: error }, 'unhandled error');
      // A 500 never shows internals.
      sendProblem(ctx, new AppError(500, 'internal_error', 'Something went wrong on our side'));
    }
  };
}

/**
 * Koa's 'error' event: what escapes the middleware, and the connection's own errors (a client
 * hanging up mid-request is one). Listening replaces Koa's default, which prints each to stderr.
 */
export function logAppError(logger: Logger) {
  return (error: unknown, ctx?: Context): void => {
    if (isClientAbort(error, ctx)) logClientAbort(logOf(ctx, logger), error);
    else logOf(ctx, logger).error({ err: error }, 'unhandled error');
  };
}
