import { destination, pino, type DestinationStream, type Logger } from 'pino';
import type { LogFormat } from './config.ts';
import { prettyStream } from './log-format.ts';

export type { Logger };

export interface LoggerOptions {
  /** `pretty`: one readable line per record (a person at a terminal); `json`: one object per line. */
  format?: LogFormat;
  /** Where the records go; standard output unless given. */
  destination?: DestinationStream;
}

export function createLogger(level: string, name: string, { format = 'json', destination: out = destination() }: LoggerOptions = {}): Logger {
  return pino(
    {
      name,
      level,
      // Billing keys and credentials never reach the log in full, in either format.
      redact: {
        paths: ['billingKey', '*.billingKey', 'req.headers.authorization', 'headers.authorization'],
        censor: (value) => (typeof value === 'string' ? maskSecret(value) : '[redacted]'),
      },
    },
    format === 'pretty' ? prettyStream(out) : out,
  );
}

/** Keeps the last four characters: enough to tell keys apart in a log. */
export function maskSecret(value: string): string {
  return value.length <= 4 ? '****' : `****${value.slice(-4)}`;
}

/** Every `"billingKey": "…"` in a raw (JSON) text, masked: a stored message shown to an operator keeps its shape. */
export function maskBillingKeys(text: string): string {
  return text.replace(/("billingKey"\s*:\s*")((?:[^"\\]|\\.)*)"/g, (_, key: string, value: string) => `${key}${maskSecret(value)}"`);
}
