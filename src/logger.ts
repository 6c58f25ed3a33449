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

/** Every `"billingKey": "…"` in a raw (JSON) text, masked: a stored message shown to an operator keeps its shape. */
export function maskBillingKeys(text: string): string {
  return text.replace(/("billingKey"\s*:\s*")((?:[^"\\]|\\.)*)"/g, (_, key: string, value: string) => `${key}${maskSecret(value)}"`);
}
