import { api, dataTable, h, money, show, statusBadge, when } from './common.js';

// Seed 004's my-page: a customer's payments, newest first, with a cancel button on
// those that still hold money.

const CANCELLABLE = new Set(['completed', 'partially_cancelled']);
const customerId = new URLSearchParams(location.search).get('customerId') ?? '';

async function cancel(payment, button) {
  button.disabled = true;
  try {
    await api(`/v1/payments/${encodeURIComponent(payment.id)}/cancel?wait=10`, {
      method: 'POST',
      headers: { 'idempotency-key': crypto.randomUUID() },
      body: { reason: 'cancelled by the customer on my page' },
    });
    await start();
  } catch (error) {
    button.disabled = false;
    button.after(h('span', { role: 'alert', class: 'error' }, ` Not cancelled: ${error.message}`));
  }
}

function customerForm() {
  return h(
    'form',
    { class: 'card', method: 'get', action: '/payment/mypage' },
    h('h1', {}, 'My payments'),
    h('label', { for: 'customerId' }, 'Customer id'),
    h('input', { id: 'customerId', name: 'customerId', required: true, value: customerId }),
    h('button', { type: 'submit' }, 'Show'),
  );
}

async function start() {
  if (!customerId) return show(customerForm());
  try {
    const { data } = await api(`/v1/payments?customerId=${encodeURIComponent(customerId)}&limit=100`);
    const rows = data.map((p) => {
      const button = h('button', { type: 'button', 'data-action': 'cancel', onclick: () => cancel(p, button) }, 'Cancel');
      return h(
        'tr',
        { 'data-payment': p.id },
        h('td', {}, when(p.createdAt)),
        h('td', {}, p.orderName),
        h('td', { class: 'number' }, money(p.amount, p.currency)),
        h('td', {}, statusBadge(p.status)),
        h('td', {}, CANCELLABLE.has(p.status) ? button : ''),
      );
    });
    show(
      customerForm(),
      h('p', {}, h('a', { href: '/payment' }, 'Buy something')),
      dataTable({ id: 'history', caption: `Payments of ${customerId}`, headings: ['When', 'Order', 'Amount', 'Status', 'Action'], rows, empty: 'No payment yet.', emptyId: 'empty' }),
    );
  } catch (error) {
    show(customerForm(), h('p', { role: 'alert', class: 'error' }, `Error: ${error.message}`));
  }
}

start();
