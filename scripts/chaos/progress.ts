import { cancelsSettled, type RunStats } from './stats.ts';

export type Phase = 'starting' | 'load' | 'waiting for rest' | 'waiting for webhooks' | 'checking';

interface Bar {
  label: string;
  done: number;
  total: number;
}

const BAR_WIDTH = 30;
const TTY_REDRAW_MS = 250;
const LINE_EVERY_MS = 5_000;

function bars(stats: RunStats, statuses: Record<string, number>): Bar[] {
  const payments = Object.values(statuses).reduce((a, b) => a + b, 0);
  const inFlight = (statuses.processing ?? 0) + (statuses.cancel_requested ?? 0);
  const { purchases, replays, reuses, cancels } = stats;
  const checked = (c: { ok: number; mismatched: number }) => c.ok + c.mismatched;
  return [
    { label: 'purchases', done: purchases.accepted + purchases.notAccepted, total: purchases.planned },
    {
      label: 'follow-ups',
      done: checked(replays) + checked(reuses) + cancelsSettled(cancels),
      total: replays.planned + reuses.planned + cancels.planned,
    },
    { label: 'at rest', done: payments - inFlight, total: payments },
  ];
}

function notes(stats: RunStats): string {
  const serverErrors = Object.values(stats.http.serverErrors).reduce((a, b) => a + b, 0);
  return `kills ${stats.kills.done} · network retries ${stats.http.networkRetries} · 5xx ${serverErrors} · mismatches ${stats.mismatches.length}`;
}

function drawBar({ label, done, total }: Bar): string {
  const share = total > 0 ? Math.min(1, done / total) : 0;
  const filled = Math.round(share * BAR_WIDTH);
  const percent = `${Math.floor(share * 100)}%`.padStart(4);
  return `${label.padEnd(10)} [${'█'.repeat(filled)}${'░'.repeat(BAR_WIDTH - filled)}] ${percent} ${done}/${total}`;
}

export interface ProgressSource {
  phase(): Phase;
  stats: RunStats;
  /** Payments by status, read from the database. */
  statuses(): Record<string, number>;
}

/**
 * Progress on stderr: bars redrawn in place on a terminal; otherwise (CI, a test's pipe) one
 * line every few seconds, so logs stay readable.
 */
export function startProgress(source: ProgressSource, stream: NodeJS.WriteStream = process.stderr): { stop(): void } {
  const startedAt = Date.now();
  const elapsed = () => `${Math.round((Date.now() - startedAt) / 1000)}s`;
  let drawnLines = 0;

  const drawTty = () => {
    const lines = [`chaos · ${source.phase()} · ${elapsed()}`, ...bars(source.stats, source.statuses()).map(drawBar), notes(source.stats)];
    // Back to the first line of the previous drawing, then overwrite it line by line.
    const up = drawnLines > 0 ? `\x1b[${drawnLines}F` : '';
    stream.write(up + lines.map((line) => `\x1b[2K${line}\n`).join(''));
    drawnLines = lines.length;
  };
  const writeLine = () => {
    const summary = bars(source.stats, source.statuses())
      .map(({ label, done, total }) => `${label} ${done}/${total}`)
      .join(' · ');
    stream.write(`[chaos ${elapsed()}] ${source.phase()} · ${summary} · ${notes(source.stats)}\n`);
  };

  const draw = stream.isTTY ? drawTty : writeLine;
  const timer = setInterval(draw, stream.isTTY ? TTY_REDRAW_MS : LINE_EVERY_MS);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      if (stream.isTTY) drawTty();
    },
  };
}
