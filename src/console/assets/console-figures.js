import { h, readEvents, requireOperator, show, showError, when } from './common.js';

// This process's live figures (actors in memory, PG health and queue, from its
// @xstate/store) and every payment by status, as GET /v1/admin/figures/live sends them.

const live = new AbortController();

function render(f) {
  const row = (label, value, id) => h('tr', { id }, h('th', { scope: 'row' }, label), h('td', { class: 'number' }, value));
  const pgHealthy = f.pg.consecutiveFailures === 0;
  return [
    h(
      'table',
      { id: 'process-figures' },
      h('caption', {}, 'This process'),
      row('Actors in memory', f.actorsInMemory, 'actors'),
      row('Snapshot writes refused', f.snapshotWriteFailures),
      row('PG', pgHealthy ? 'answering' : `not answering (${f.pg.consecutiveFailures} calls in a row)`, 'pg-health'),
      row('PG calls waiting for a connection', f.pg.queued),
      row('PG last answered', when(f.pg.lastOkAt) || '—'),
      row('PG last failed', when(f.pg.lastFailureAt) || '—'),
      row('Open dead letters', f.openFailedEvents),
    ),
    h(
      'table',
      { id: 'payments-by-status' },
      h('caption', {}, 'Payments by status (every process)'),
      Object.entries(f.paymentsByStatus).map(([status, count]) =>
        row(h('a', { href: `/console?status=${status}` }, status.replaceAll('_', ' ')), count, `count-${status}`),
      ),
    ),
  ];
}

function start() {
  const figures = h('div', { id: 'figures', 'aria-live': 'polite' }, 'Connecting…');
  show(h('h1', {}, 'Live figures'), figures);
  readEvents('/v1/admin/figures/live', { admin: true, signal: live.signal, onEvent: (name, data) => name === 'figures' && figures.replaceChildren(...render(data)) }).catch(
    (error) => showError(error, start),
  );
}

requireOperator(start);
