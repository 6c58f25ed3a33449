import { api, followEvents, h, requireOperator, show, showError, when } from './common.js';

// This process's live figures (actors in memory, PG health and queue, from its
// @xstate/store) and every payment by status, as GET /v1/admin/figures/live sends them;
// and, when the PG is the local mock, its chaos settings.

let live = new AbortController();

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

const CHAOS_FIELDS = [
  ['failureRate', 'Failures (share of requests, 0–1)', 0.01],
  ['ambiguousRate', 'Ambiguous failures: charged, then an error (0–1)', 0.01],
  ['delayRate', 'Delayed answers (0–1)', 0.01],
  ['delayMs', 'Delay (ms)', 1],
  ['cancelRefusalRate', 'Refunds the issuer refuses (0–1)', 0.01],
];

/** The mock PG's chaos settings as a form, when the PG is the local mock. */
async function chaosControls(figures) {
  if (!figures.pg.mock) return h('p', { id: 'no-chaos' }, 'The PG is not the local mock: no chaos controls.');
  const settings = await api('/v1/admin/mock-pg/chaos', { admin: true });
  const status = h('p', { id: 'chaos-status', 'aria-live': 'polite' });
  const inputs = CHAOS_FIELDS.map(([name, label, step]) => [name, label, h('input', { id: `chaos-${name}`, name, type: 'number', min: 0, max: name === 'delayMs' ? undefined : 1, step, value: settings[name], required: true })]);
  const form = h(
    'form',
    {
      id: 'chaos',
      class: 'filters',
      onsubmit: async (event) => {
        event.preventDefault();
        try {
          const changed = await api('/v1/admin/mock-pg/chaos', { method: 'POST', admin: true, body: Object.fromEntries(inputs.map(([name, , input]) => [name, Number(input.value)])) });
          status.textContent = `Saved: ${CHAOS_FIELDS.map(([name]) => `${name} ${changed[name]}`).join(', ')}`;
        } catch (error) {
          status.textContent = `Not saved: ${error.message}`;
        }
      },
    },
    inputs.map(([name, label, input]) => h('div', { class: 'field' }, h('label', { for: `chaos-${name}` }, label), input)),
    h('button', { type: 'submit' }, 'Apply'),
  );
  return h('section', { 'aria-labelledby': 'chaos-title' }, h('h2', { id: 'chaos-title' }, 'Mock PG chaos'), form, status);
}

async function start() {
  // Signing in again runs this again: the previous stream goes with the previous page.
  live.abort();
  live = new AbortController();
  // Tables that change several times a second are not read out; PG health changes are.
  const figures = h('div', { id: 'figures' }, 'Connecting…');
  const health = h('p', { id: 'pg-announcement', role: 'status' });
  try {
    show(h('h1', {}, 'Live figures'), health, figures, await chaosControls(await api('/v1/admin/figures', { admin: true })));
  } catch (error) {
    return showError(error, start);
  }
  let lastHealth;
  followEvents('/v1/admin/figures/live', {
    admin: true,
    signal: live.signal,
    onEvent: (name, data) => {
      if (name !== 'figures') return;
      figures.replaceChildren(...render(data));
      const words = data.pg.consecutiveFailures === 0 ? 'The PG answers.' : `The PG does not answer (${data.pg.consecutiveFailures} calls in a row).`;
      if (words !== lastHealth) health.textContent = lastHealth = words;
    },
    onStatus: (status) => {
      health.textContent = status;
      lastHealth = undefined;
    },
  }).catch((error) => showError(error, start));
}

requireOperator(start);
