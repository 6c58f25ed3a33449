/**
 * What a bench process logged (at LOG_LEVEL=warn, only what went wrong), or PostgreSQL's
 * server log, counted by message: a figure measured while the service was logging errors
 * is not the figure it seems.
 */
const LEVELS: Record<number, string> = { 40: 'warn', 50: 'error', 60: 'fatal' };

export class LogSummary {
  private readonly counts = new Map<string, number>();
  private partial = '';

  /** A chunk of stdout or stderr: complete lines are counted, a trailing part waits for the rest. */
  add(chunk: Buffer): void {
    const lines = (this.partial + chunk.toString()).split('\n');
    this.partial = lines.pop()!;
    for (const line of lines) if (line.trim() !== '') this.addMessage(pinoMessage(line));
  }

  /** One message already named (a PostgreSQL log entry). */
  addMessage(message: string): void {
    this.counts.set(message, (this.counts.get(message) ?? 0) + 1);
  }

  /** `  name logged N lines: …` with the most frequent messages, or nothing when none counted. */
  report(name: string): string | undefined {
    if (this.partial.trim() !== '') this.addMessage(pinoMessage(this.partial));
    this.partial = '';
    const total = [...this.counts.values()].reduce((sum, n) => sum + n, 0);
    if (total === 0) return undefined;
    const top = [...this.counts].sort((a, b) => b[1] - a[1]).slice(0, 5);
    return [`  ${name} logged ${total} entries:`, ...top.map(([message, n]) => `    ${String(n).padStart(6)} × ${message}`)].join('\n');
  }
}

/** A pino line's level and message (with its error's, if any); any other line, shortened. */
function pinoMessage(line: string): string {
  try {
    const entry = JSON.parse(line) as { level?: number; msg?: string; err?: { message?: string } };
    const error = entry.err?.message ? `: ${entry.err.message.slice(0, 160)}` : '';
    return `${LEVELS[entry.level ?? 0] ?? `level ${entry.level}`} ${entry.msg ?? ''}${error}`;
  } catch {
    return line.slice(0, 200);
  }
}

/**
 * The entries of a PostgreSQL server log at WARNING or above, each with the statement
 * that failed when the server logged it: `ERROR deadlock detected — update products …`.
 * Lines look like `2025-… UTC [pid] LEVEL:  text`; DETAIL, CONTEXT and STATEMENT lines of
 * the same pid follow their entry.
 */
export function postgresLogEntries(text: string): string[] {
  const entries: string[] = [];
  let open: { pid: string; index: number } | undefined;
  for (const line of text.split('\n')) {
    const match = /\[(\d+)\] ([A-Z]+):\s+(.*)$/.exec(line);
    if (!match) continue;
    const [, pid, level, message] = match as unknown as [string, string, string, string];
    if (level === 'STATEMENT' && open?.pid === pid) {
      entries[open.index] += ` — ${message.replace(/\s+/g, ' ').slice(0, 120)}`;
      open = undefined;
    } else if (['WARNING', 'ERROR', 'FATAL', 'PANIC'].includes(level)) {
      open = { pid, index: entries.push(`${level} ${message.slice(0, 200)}`) - 1 };
    } else if (!['DETAIL', 'HINT', 'CONTEXT'].includes(level)) {
      open = undefined;
    }
  }
  return entries;
}
