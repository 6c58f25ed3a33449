import type { ChaosReport } from './report.ts';

type Row = [section: string, item: string, value: string | number];

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** One row per count; the section is named on its first row only. */
function section(name: string, counts: Record<string, number>, empty = 'none'): Row[] {
  const entries = Object.entries(counts).sort(([a], [b]) => a.localeCompare(b));
  if (entries.length === 0) return [[name, empty, '']];
  return entries.map(([item, count], index) => [index === 0 ? name : '', item, count]);
}

function rows(report: ChaosReport): Row[] {
  const { options, payments, pg, kills, replays, reuses, cancels, http, durations } = report;
  const restarted = kills.done - kills.forGood.length;
  return [
    ['setup', 'database', options.database],
    ['', 'service processes', options.instances],
    ['purchases', 'accepted / planned', `${payments.accepted} / ${payments.planned}`],
    ['', 'not accepted', payments.notAccepted],
    ...section('payments', payments.byStatus),
    ...section('PG ledger', pg.byStatus),
    ['', 'charges taken', pg.charges],
    ['', 'refunds', pg.cancellations],
    ['kills', 'SIGKILL + restart', restarted],
    ['', 'SIGKILL for good', kills.forGood.length === 0 ? 0 : `${kills.forGood.length} (${kills.forGood.join(', ')})`],
    ...section('', Object.fromEntries(Object.entries(kills.byInstance).map(([id, n]) => [`kills of ${id}`, n])), 'kills of none'),
    ['idempotency', 'replays ok / mismatched', `${replays.ok} / ${replays.mismatched} (of ${replays.planned})`],
    ['', 'reused keys refused / not', `${reuses.ok} / ${reuses.mismatched} (of ${reuses.planned})`],
    ['cancels', 'picked / sent', `${cancels.planned} / ${cancels.sent}`],
    ['', 'accepted', cancels.accepted],
    ...section('', Object.fromEntries(Object.entries(cancels.refused).map(([code, n]) => [`refused ${code}`, n])), 'refused 0'),
    ...section('', Object.fromEntries(Object.entries(cancels.skipped).map(([status, n]) => [`not sent: ${status}`, n])), 'not sent 0'),
    ...section('', Object.fromEntries(Object.entries(cancels.errors).map(([what, n]) => [`error ${what}`, n])), 'errors 0'),
    ['http', 'network retries', http.networkRetries],
    ['', 'payment_busy retries', http.busyRetries],
    ...section('', http.serverErrors, '5xx none'),
    ...section('violations', report.violations.byKind),
    ...report.attention.map(({ paymentId, cancelledAmount, amount, pg }, index): Row => [
      index === 0 ? 'needs attention' : '',
      paymentId,
      `cancelled ${cancelledAmount}/${amount}; PG ${pg ? `${pg.status}, refunded ${pg.cancelledAmount}` : 'has no record'}`,
    ]),
    ...section('client mismatches', report.clientMismatches.byKind),
    ['webhooks', 'events in the feed / in the database', `${report.events.inFeed} / ${report.events.inDatabase}`],
    ['', 'events delivered / in the feed', `${report.merchant.delivered} / ${report.merchant.expected}`],
    ['', 'refused by the merchant (retried)', report.merchant.refused],
    ['', 'duplicates (at least once)', report.merchant.duplicates],
    ['', 'out of sequence / forged', `${report.merchant.outOfOrder.length} / ${report.merchant.forged}`],
    ['durations', 'start-up', seconds(durations.startupMs)],
    ['', 'load', seconds(durations.loadMs)],
    ['', 'until at rest', `${seconds(durations.restMs)}${report.atRest ? '' : ' (deadline passed)'}`],
    ['', 'checks', seconds(durations.checkMs)],
    ['', 'total', seconds(durations.totalMs)],
    ['verdict', report.verdict.toUpperCase(), report.reasons.join('; ')],
  ];
}

/** A plain aligned table: readable in a terminal and in a CI log alike. */
export function formatSummary(report: ChaosReport): string {
  const header = ['section', 'item', 'value'];
  const table = rows(report).map((row) => row.map(String));
  const widths = header.map((title, column) => Math.max(title.length, ...table.map((row) => row[column]!.length)));
  const line = (cells: string[]) => cells.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(header), widths.map((w) => '─'.repeat(w)).join('  '), ...table.map(line)].join('\n');
}
