import { api, askReason, dataTable, h, outcomeSelect, paymentCells, paymentLink, requireOperator, show, showError, when } from './common.js';

// What waits on an operator: payments in requires_attention (resolve) and open dead
// letters (retry or ignore). Every action asks for a reason for the audit trail.

async function act(path, title, extra) {
  const answer = await askReason(title, extra);
  if (!answer) return;
  try {
    await api(path, { method: 'POST', admin: true, body: answer });
    await start();
  } catch (error) {
    showError(error, start);
  }
}

function resolveButton(payment) {
  const resolve = () => act(`/v1/admin/payments/${encodeURIComponent(payment.id)}/resolve`, `Resolve payment ${payment.id}`, { name: 'outcome', label: 'Outcome', select: outcomeSelect() });
  return h('button', { type: 'button', 'data-action': 'resolve', onclick: resolve }, 'Resolve…');
}

function paymentsTable(payments) {
  return dataTable({
    id: 'attention',
    caption: 'Payments in requires_attention',
    headings: ['Payment', 'Status', 'Amount', 'Failure', 'Updated', 'Action'],
    empty: 'No payment needs an operator.',
    emptyId: 'no-attention',
    rows: payments.map((p) =>
      h(
        'tr',
        { 'data-payment': p.id },
        paymentCells(p),
        h('td', {}, p.failureCode ?? '—'),
        h('td', {}, when(p.updatedAt)),
        h('td', {}, resolveButton(p)),
      ),
    ),
  });
}

function deadLettersTable(events) {
  const base = (e) => `/v1/admin/failed-events/${encodeURIComponent(e.id)}`;
  return dataTable({
    id: 'dead-letters',
    caption: 'Open dead letters',
    headings: ['#', 'Kind', 'Payment', 'Step', 'Reason', 'Since', 'Actions'],
    empty: 'No open dead letter.',
    emptyId: 'no-dead-letters',
    rows: events.map((e) =>
      h(
        'tr',
        { 'data-failed-event': e.id },
        h('td', {}, e.id),
        h('td', {}, e.kind),
        h('td', {}, e.paymentId ? paymentLink(e.paymentId) : '—'),
        h('td', {}, e.step ?? '—'),
        h('td', {}, e.reason),
        h('td', {}, when(e.createdAt)),
        h(
          'td',
          { class: 'actions' },
          h('button', { type: 'button', 'data-action': 'retry', onclick: () => act(`${base(e)}/retry`, `Retry dead letter ${e.id}`) }, 'Retry…'),
          h('button', { type: 'button', 'data-action': 'ignore', onclick: () => act(`${base(e)}/ignore`, `Ignore dead letter ${e.id}`) }, 'Ignore…'),
        ),
      ),
    ),
  });
}

async function start() {
  try {
    const cursor = new URLSearchParams(location.search).get('cursor');
    const query = new URLSearchParams({ status: 'requires_attention', limit: '100', ...(cursor ? { cursor } : {}) });
    const [attention, deadLetters] = await Promise.all([api(`/v1/payments?${query}`), api('/v1/admin/failed-events?status=open', { admin: true })]);
    const more = attention.nextCursor ? h('p', {}, h('a', { id: 'more', href: `/console/attention?cursor=${encodeURIComponent(attention.nextCursor)}` }, 'Older payments needing attention →')) : null;
    show(h('h1', {}, 'Needs attention'), paymentsTable(attention.data), more, deadLettersTable(deadLetters.data));
  } catch (error) {
    showError(error, start);
  }
}

requireOperator(start);
