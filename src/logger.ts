import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string, name: string): Logger {
  return pino({
    name,
    level,
    // Billing keys and credentials never reach the log in full.
    redact: {
      paths: ['billingKey', '*.billingKey', 'req.headers.authorization', 'headers.authorization'],
      censor: (value) => (typeof value === 'string' ? maskSecret(value) : '[redacted]'),
    },
  });
}

/** Keeps the last four characters: enough to tell keys apart in a log. */
export function maskSecret(value: string): string {
  return value.length <= 4 ? '****' : `****${value.slice(-4)}`;
}
