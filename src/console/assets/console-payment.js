import { api, askReason, dataTable, h, money, outcomeSelect, requireOperator, show, showError, statusBadge, when } from './common.js';
import { liveDiagram } from './live-diagram.js';

// One payment: what was bought, its cancellations and their PG attempts, the transition
// log with reasons, the live diagram, and the operator's resolve when it needs one.

const paymentId = decodeURIComponent(location.pathname.split('/').at(-1));
let live = new AbortController();

function summary(p) {
  const row = (label, value) => [h('dt', {}, label), h('dd', {}, value)];
  return h(
    'dl',
    { class: 'summary' },
    row('Status', statusBadge(p.status)),
    row('Amount', money(p.amount, p.currency)),
    row('Cancelled', money(p.cancelledAmount, p.currency)),
    row('Customer', p.customerId),
    row('Partner', p.partnerId),
    row('Order', p.orderName),
    row('Failure', p.failureCode ?? '—'),
    row('Created', when(p.createdAt)),
    row('Updated', when(p.updatedAt)),
  );
}

const table = (id, caption, headings, rows) => dataTable({ id, caption, headings, rows, empty: `${caption}: none.`, emptyId: id });

const itemsTable = (p) =>
  table('items', 'Items', ['Product', 'Quantity', 'Unit price'], p.items.map((i) => h('tr', {}, h('td', {}, i.productId), h('td', { class: 'number' }, i.quantity), h('td', { class: 'number' }, money(i.unitPrice, p.currency)))));

function cancellationsTable(cancellations, currency) {
  return table(
    'cancellations',
    'Cancellations',
    ['Requested', 'Amount', 'Status', 'Reason', 'PG attempts'],
    cancellations.map((c) =>
      h(
        'tr',
        {},
        h('td', {}, when(c.requestedAt)),
        h('td', { class: 'number' }, money(c.amount, currency)),
        h('td', {}, statusBadge(c.status)),
        h('td', {}, c.reason),
        h('td', {}, h('ul', {}, c.attempts.map((a) => h('li', {}, [when(a.at), a.outcome, a.pgCode, a.message].filter(Boolean).join(' · '))))),
      ),
    ),
  );
}

const transitionsTable = (log) =>
  table(
    'transitions',
    'Transition log',
    ['#', 'When', 'Why', 'From', 'To'],
    log.map((t) => h('tr', {}, h('td', {}, t.seq), h('td', {}, when(t.at)), h('td', {}, t.reason, t.detail ? ` (${t.detail.actor}: ${t.detail.reason})` : ''), h('td', {}, t.from ?? '—'), h('td', {}, t.to))),
  );

async function resolve() {
  const answer = await askReason('Resolve this payment', { name: 'outcome', label: 'Outcome', select: outcomeSelect() });
  if (!answer) return;
  try {
    await api(`/v1/admin/payments/${encodeURIComponent(paymentId)}/resolve`, { method: 'POST', admin: true, body: answer });
    await refresh();
  } catch (error) {
    showError(error, start);
  }
}

let sections;

/** Re-reads what the live stream does not carry (the row, the log, cancellations). */
async function refresh() {
  const id = encodeURIComponent(paymentId);
  const [payment, log, cancellations] = await Promise.all([api(`/v1/payments/${id}`), api(`/v1/payments/${id}/events`), api(`/v1/payments/${id}/cancellations`)]);
  sections.summary.replaceChildren(summary(payment));
  sections.items.replaceChildren(itemsTable(payment));
  sections.cancellations.replaceChildren(cancellationsTable(cancellations.data, payment.currency));
  sections.log.replaceChildren(transitionsTable(log.data));
  sections.actions.replaceChildren(payment.status === 'requires_attention' ? h('button', { type: 'button', id: 'resolve', onclick: resolve }, 'Resolve…') : '');
}

async function start() {
  // Signing in again runs this again: the previous live stream goes with the previous page.
  live.abort();
  live = new AbortController();
  try {
    const machine = await api('/v1/machines/payment');
    sections = { summary: h('div'), items: h('div'), cancellations: h('div'), log: h('div'), actions: h('div', { class: 'actions' }) };
    await refresh();
    show(
      h('h1', {}, `Payment ${paymentId}`),
      sections.summary,
      sections.actions,
      h('h2', {}, 'State'),
      liveDiagram(paymentId, machine.diagram, { signal: live.signal, onSnapshot: () => refresh().catch(() => {}) }),
      sections.items,
      sections.cancellations,
      sections.log,
    );
  } catch (error) {
    showError(error, start);
  }
}

requireOperator(start);
