import { api, dataTable, downloadAdminFile, h, paymentCells, requireOperator, show, showError, when } from './common.js';

// The payments list: filters live in the URL (a view can be bookmarked and shared);
// dates are the operator's local days, sent as instants with their offset.

const STATUSES = ['processing', 'completed', 'failed', 'rejected', 'cancel_requested', 'partially_cancelled', 'cancelled', 'requires_attention'];
const TEXT_FILTERS = [
  ['customerId', 'Customer'],
  ['partnerId', 'Partner'],
];

/** Local midnight of a `YYYY-MM-DD`, as an instant with its offset. */
function startOfDay(date, plusDays = 0) {
  const [y, m, d] = date.split('-').map(Number);
  const local = new Date(y, m - 1, d + plusDays);
  const offset = -local.getTimezoneOffset();
  const sign = offset >= 0 ? '+' : '-';
  const pad = (n) => String(Math.abs(n)).padStart(2, '0');
  return `${local.getFullYear()}-${pad(local.getMonth() + 1)}-${pad(local.getDate())}T00:00:00${sign}${pad(Math.trunc(offset / 60))}:${pad(offset % 60)}`;
}

/** The API's query for the URL's filters. */
function apiQuery(params) {
  const query = new URLSearchParams();
  for (const name of ['status', 'customerId', 'partnerId']) if (params.get(name)) query.set(name, params.get(name));
  if (params.get('from')) query.set('from', startOfDay(params.get('from')));
  if (params.get('to')) query.set('to', startOfDay(params.get('to'), 1));
  return query;
}

function filterForm(params) {
  const field = (name, label, input) => h('div', { class: 'field' }, h('label', { for: `f-${name}` }, label), input);
  return h(
    'form',
    { class: 'filters', role: 'search', method: 'get', action: '/console' },
    field(
      'status',
      'Status',
      h('select', { id: 'f-status', name: 'status' }, h('option', { value: '' }, 'any'), STATUSES.map((s) => h('option', { value: s, selected: params.get('status') === s }, s))),
    ),
    TEXT_FILTERS.map(([name, label]) => field(name, label, h('input', { id: `f-${name}`, name, value: params.get(name) ?? '' }))),
    field('from', 'From (day)', h('input', { id: 'f-from', name: 'from', type: 'date', value: params.get('from') ?? '' })),
    field('to', 'To (day, included)', h('input', { id: 'f-to', name: 'to', type: 'date', value: params.get('to') ?? '' })),
    h('button', { type: 'submit' }, 'Filter'),
  );
}

function table(payments) {
  return dataTable({
    id: 'payments',
    caption: 'Payments, newest first',
    headings: ['Payment', 'Status', 'Amount', 'Customer', 'Partner', 'Created'],
    empty: 'No payment matches these filters.',
    emptyId: 'empty',
    rows: payments.map((p) =>
      h(
        'tr',
        { 'data-payment': p.id },
        paymentCells(p),
        h('td', {}, p.customerId),
        h('td', {}, p.partnerId),
        h('td', {}, when(p.createdAt)),
      ),
    ),
  });
}

async function start() {
  const params = new URLSearchParams(location.search);
  const query = apiQuery(params);
  query.set('limit', '50');
  if (params.get('cursor')) query.set('cursor', params.get('cursor'));
  try {
    const page = await api(`/v1/payments?${query}`);
    const exportButton = h('button', { type: 'button', id: 'export', onclick: () => downloadAdminFile(`/v1/admin/payments/export?${apiQuery(params)}`, 'payments.csv', exportButton, (error) => showError(error, start)) }, 'Export CSV');
    const next = new URLSearchParams(params);
    if (page.nextCursor) next.set('cursor', page.nextCursor);
    show(
      h('h1', {}, 'Payments'),
      filterForm(params),
      h('div', { class: 'actions' }, exportButton, page.nextCursor ? h('a', { href: `/console?${next}`, id: 'next' }, 'Older payments →') : null),
      table(page.data),
    );
  } catch (error) {
    showError(error, start);
  }
}

requireOperator(start);
