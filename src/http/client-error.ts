import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { AppError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { problemDocument } from './problem.ts';

/** Node's parser errors for a request too large to read: its headers or its line. */
const TOO_LARGE = new Set(['HPE_HEADER_OVERFLOW', 'HPE_URI_TOO_LONG']);

/**
 * Requests Node's HTTP parser refuses never reach Koa: a bad byte in the path, headers
 * over 16 KiB. Node would answer them with a bare status line; they get the problem
 * document (and request id) every other answer has, and a debug line: bad input is the
 * client's fault, not ours.
 */
export function answerParserErrors(server: Server, logger: Logger): void {
  server.on('clientError', (error: Error & { code?: string }, socket: Duplex) => {
    logger.debug({ code: error.code, reason: 'unparsable_request' }, 'request refused by the HTTP parser');
    if (error.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const problem = TOO_LARGE.has(error.code ?? '')
      ? new AppError(431, 'request_too_large', 'The request line or headers are over 16 KiB')
      : new AppError(400, 'bad_request', 'The request is not valid HTTP');
    const document = problemDocument(problem);
    const body = JSON.stringify(document);
    socket.end(
      `HTTP/1.1 ${problem.status} ${document.title}\r\n` +
        'Content-Type: application/problem+json\r\n' +
        `Content-Length: ${Buffer.byteLength(body)}\r\n` +
        `X-Request-Id: ${randomUUID()}\r\n` +
        'Connection: close\r\n\r\n' +
        body,
    );
  });
}
