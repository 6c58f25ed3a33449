import { api, dataTable, downloadAdminFile, h, money, requireOperator, show, showError, statusBadge, when } from './common.js';

// A business date's settlements, one per partner: the figures, the discrepancies found
// against the PG's own list, the lines as CSV, and running the date (again).

const params = new URLSearchParams(location.search);

/** Yesterday in the browser's calendar: the day the schedule settles each night. */
function yesterday() {
  const day = new Date(Date.now() - 86_400_000);
  return `${day.getFullYear()}-${String(day.getMonth() + 1).padStart(2, '0')}-${String(day.getDate()).padStart(2, '0')}`;
}

function discrepancies(list) {
  if (list.length === 0) return 'none';
  return h('ul', {}, list.map((d) => h('li', {}, `${d.paymentId ?? '(no payment)'}: ${d.kind.replaceAll('_', ' ')} (ours ${d.ours ?? '—'}, PG ${d.pg ?? '—'})`)));
}

function settlementsTable(settlements) {
  return dataTable({
    id: 'settlements',
    caption: 'Settlements, one per partner',
    headings: ['Partner', 'Status', 'Payments', 'Gross', 'Refunds', 'Fees', 'Net', 'Discrepancies', 'Completed', 'Lines'],
    empty: 'No settlement for this date yet: run it.',
    emptyId: 'no-settlements',
    rows: settlements.map((s) => {
      const lines = `/v1/admin/settlements/${encodeURIComponent(s.id)}/lines.csv`;
      const button = h('button', { type: 'button', onclick: () => downloadAdminFile(lines, `${s.id}.csv`, button, (error) => showError(error, start)) }, 'CSV');
      return h(
        'tr',
        { 'data-partner': s.partnerId },
        h('td', {}, s.partnerId),
        h('td', {}, statusBadge(s.status)),
        h('td', { class: 'number' }, s.paymentCount),
        h('td', { class: 'number' }, money(s.grossAmount, s.currency)),
        h('td', { class: 'number' }, `${s.refundCount} · ${money(s.refundAmount, s.currency)}`),
        h('td', { class: 'number' }, money(s.feeAmount, s.currency)),
        h('td', { class: 'number net' }, money(s.netAmount, s.currency)),
        h('td', {}, discrepancies(s.discrepancies)),
        h('td', {}, when(s.completedAt) || '—'),
        h('td', {}, button),
      );
    }),
  });
}

async function run(date, button) {
  button.disabled = true;
  try {
    await api('/v1/admin/settlements/run', { method: 'POST', admin: true, body: { date } });
    await start();
  } catch (error) {
    showError(error, start);
  }
}

async function start() {
  const date = params.get('date') || yesterday();
  try {
    const { data } = await api(`/v1/admin/settlements?date=${encodeURIComponent(date)}`, { admin: true });
    const runButton = h('button', { type: 'button', id: 'run', onclick: () => run(date, runButton) }, data.length === 0 ? 'Run this date' : 'Run this date again');
    show(
      h('h1', {}, `Settlements of ${date}`),
      h(
        'form',
        { class: 'filters', method: 'get', action: '/console/settlements' },
        h('div', { class: 'field' }, h('label', { for: 'date' }, 'Business date'), h('input', { id: 'date', name: 'date', type: 'date', value: date, required: true })),
        h('button', { type: 'submit' }, 'Show'),
      ),
      h('div', { class: 'actions' }, runButton),
      settlementsTable(data),
    );
  } catch (error) {
    showError(error, start);
  }
}

requireOperator(start);
