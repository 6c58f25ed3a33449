import { createLogger, type Logger } from '../../src/logger.ts';

export interface LogRecord {
  level: number;
  msg: string;
  component?: string;
  [field: string]: unknown;
}

/** A debug-level JSON logger whose records a test reads (the harness's own logs nowhere). */
export function captureLogs(): { logger: Logger; records: LogRecord[] } {
  const records: LogRecord[] = [];
  const logger = createLogger('debug', 'paystate', { format: 'json', destination: { write: (line) => records.push(JSON.parse(line) as LogRecord) } });
  return { logger, records };
}
