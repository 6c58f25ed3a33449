import { levels, type DestinationStream } from 'pino';

/** One pino record as it reaches a destination (already redacted and serialized). */
type LogRecord = Record<string, unknown>;

/** Shown in the line's head or left out: what a person reading a terminal does not need per line. */
const HEAD_KEYS = new Set(['level', 'time', 'msg', 'name', 'component', 'pid', 'hostname']);
const ERROR_LEVEL = levels.values.error as number;
/** A value printed without quotes: printable ASCII without spaces, quotes or `=` (no terminal escape can pass). */
const BARE = /^[!#-<>-~]+$/;
/** Control characters (ESC starts a terminal's escape sequences): written as JSON escapes. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;
const escaped = (text: string) => text.replace(CONTROL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

function pad(value: number, width = 2): string {
  return String(value).padStart(width, '0');
}

/** Local time of day: a terminal's reader knows the date. */
function clockTime(epochMs: number): string {
  const at = new Date(epochMs);
  return `${pad(at.getHours())}:${pad(at.getMinutes())}:${pad(at.getSeconds())}.${pad(at.getMilliseconds(), 3)}`;
}

function formatValue(value: unknown): string {
  if (typeof value === 'string') return BARE.test(value) ? value : escaped(JSON.stringify(value));
  if (typeof value === 'object' && value !== null) return escaped(JSON.stringify(value));
  return String(value);
}

/** pino's `err` serializer gives `{ type, message, stack }`; anything else logged as `err` is shown as it is. */
function errorOf(value: unknown): { message: string; stack?: string } | undefined {
  const error = value as { message?: unknown; stack?: unknown } | null;
  if (typeof error?.message !== 'string') return undefined;
  return { message: error.message, stack: typeof error.stack === 'string' ? error.stack : undefined };
}

/**
 * One record as one line: `12:04:05.123 INFO  [payment-host] message key=value …`. The
 * bracket names the component, else the logger (`paystate`, `mock-pg`), so the two
 * processes of `npm start` are told apart. Errors show their message; their stack
 * follows, indented, only at error level and above.
 */
export function formatRecord(record: LogRecord): string {
  const level = Number(record.level);
  const label = (levels.labels[level] ?? String(level)).toUpperCase();
  const source = record.component ?? record.name;
  let line = `${clockTime(Number(record.time))} ${label.padEnd(5)}${source === undefined ? '' : ` [${String(source)}]`}`;
  if (record.msg !== undefined && record.msg !== '') line += ` ${escaped(String(record.msg))}`;
  let stack: string | undefined;
  for (const [key, value] of Object.entries(record)) {
    if (HEAD_KEYS.has(key)) continue;
    const error = key === 'err' ? errorOf(value) : undefined;
    line += ` ${key}=${formatValue(error ? error.message : value)}`;
    if (error?.stack && level >= ERROR_LEVEL) stack = error.stack;
  }
  if (stack) line += `\n${stack.split('\n').map((frame) => `    ${escaped(frame)}`).join('\n')}`;
  return `${line}\n`;
}

/** A pino destination that writes each record to `out` as a line a person reads. */
export function prettyStream(out: DestinationStream): DestinationStream {
  return { write: (json) => out.write(formatRecord(JSON.parse(json) as LogRecord)) };
}
