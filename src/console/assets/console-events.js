import { api, dataTable, h, paymentLink, requireOperator, show, showError, statusBadge, when } from './common.js';

// The payment events feed (oldest first, as merchants receive it) and the merchant
// webhook endpoints with their latest delivery attempts.

const params = new URLSearchParams(location.search);

function eventsTable(events) {
  return dataTable({
    id: 'events',
    caption: 'Payment events, oldest first',
    headings: ['Event', 'Type', 'Payment', 'Sequence', 'When'],
    empty: 'No event matches.',
    emptyId: 'no-events',
    rows: events.map((e) =>
      h('tr', { 'data-event': e.id }, h('td', {}, e.id), h('td', {}, e.type), h('td', {}, paymentLink(e.paymentId)), h('td', { class: 'number' }, e.sequence), h('td', {}, when(e.occurredAt))),
    ),
  });
}

async function showDeliveries(endpoint, cell) {
  try {
    const { data } = await api(`/v1/admin/webhook-endpoints/${encodeURIComponent(endpoint.id)}/deliveries?limit=20`, { admin: true });
    cell.replaceChildren(
      data.length === 0
        ? 'No attempt yet.'
        : h('ul', {}, data.map((d) => h('li', {}, [when(d.at), d.eventId, `attempt ${d.attempt}`, d.status, d.error].filter(Boolean).join(' · ')))),
    );
  } catch (error) {
    showError(error, start);
  }
}

function endpointsTable(endpoints) {
  return dataTable({
    id: 'endpoints',
    caption: 'Merchant webhook endpoints',
    headings: ['Endpoint', 'URL', 'Events', 'State', 'Latest deliveries'],
    empty: 'No webhook endpoint is registered.',
    emptyId: 'no-endpoints',
    rows: endpoints.map((endpoint) => {
      const cell = h('td', {}, h('button', { type: 'button', onclick: () => showDeliveries(endpoint, cell) }, 'Show'));
      return h(
        'tr',
        { 'data-endpoint': endpoint.id },
        h('td', {}, endpoint.id),
        h('td', {}, endpoint.url),
        h('td', {}, endpoint.events.join(', ')),
        h('td', {}, statusBadge(endpoint.disabled ? 'disabled' : 'enabled')),
        cell,
      );
    }),
  });
}

function filterForm() {
  const field = (name, label) => h('div', { class: 'field' }, h('label', { for: `f-${name}` }, label), h('input', { id: `f-${name}`, name, value: params.get(name) ?? '' }));
  return h('form', { class: 'filters', role: 'search', method: 'get', action: '/console/events' }, field('paymentId', 'Payment'), field('type', 'Type (payment.completed, …)'), h('button', { type: 'submit' }, 'Filter'));
}

async function start() {
  const query = new URLSearchParams({ limit: '100' });
  for (const name of ['paymentId', 'type', 'after']) if (params.get(name)) query.set(name, params.get(name));
  try {
    const [feed, endpoints] = await Promise.all([api(`/v1/admin/events?${query}`, { admin: true }), api('/v1/admin/webhook-endpoints', { admin: true })]);
    const next = new URLSearchParams(params);
    next.set('after', feed.nextCursor);
    show(
      h('h1', {}, 'Payment events'),
      filterForm(),
      eventsTable(feed.data),
      feed.data.length > 0 ? h('p', {}, h('a', { href: `/console/events?${next}`, id: 'newer' }, 'Newer events →')) : null,
      endpointsTable(endpoints.data),
    );
  } catch (error) {
    showError(error, start);
  }
}

requireOperator(start);
