import { api, ApiError, followEvents, h, money, show, statusBadge } from './common.js';

// Seed 004's checkout: choose a product and a quantity, pay with a test card through
// the public API, and watch the outcome arrive (GET /v1/payments/:id/live).

const TEST_CARDS = [
  ['bk_test_ok', 'Test card: approved'],
  ['bk_test_decline', 'Test card: declined by the issuer'],
  ['bk_test_delay', 'Test card: the PG answers late'],
  ['bk_test_error', 'Test card: the PG fails, nothing charged'],
];
const SETTLED = new Set(['completed', 'failed', 'rejected', 'requires_attention', 'cancelled', 'partially_cancelled']);
const CUSTOMER = 'paystate.customerId';

function outcome(payment) {
  const words = {
    processing: 'Processing…',
    completed: 'Paid. Your order is confirmed.',
    rejected: 'Not paid: the product is sold out.',
    failed: `Not paid${payment.failureCode ? ` (${payment.failureCode.replaceAll('_', ' ')})` : ''}. Any amount taken is returned.`,
    requires_attention: 'We could not confirm this payment; our staff will sort it out.',
  };
  return [statusBadge(payment.status), ' ', words[payment.status] ?? payment.status];
}

/**
 * The Idempotency-Key of the purchase on the form: kept until an answer arrives, so
 * paying again after a lost answer (a timeout, a dropped connection) is the same
 * purchase, not a second charge; a new one once answered or once the form changes.
 */
let purchaseKey = crypto.randomUUID();
const newPurchase = () => (purchaseKey = crypto.randomUUID());

async function watch(payment, customerId, result) {
  const watching = new AbortController();
  const draw = (p) =>
    result.replaceChildren(
      h('p', { id: 'outcome', 'data-status': p.status }, outcome(p)),
      h('p', {}, `Payment ${payment.id}. `, h('a', { href: `/payment/mypage?customerId=${encodeURIComponent(customerId)}` }, 'My payments')),
    );
  draw(payment);
  if (SETTLED.has(payment.status)) return;
  await followEvents(`/v1/payments/${encodeURIComponent(payment.id)}/live`, {
    signal: watching.signal,
    onEvent: (name, snapshot) => {
      if (name !== 'snapshot' || !SETTLED.has(snapshot.status)) return;
      watching.abort();
    },
  });
  // Settled: the payment itself says how (a failure's code is not in the live snapshot).
  draw(await api(`/v1/payments/${encodeURIComponent(payment.id)}`));
}

async function pay(form, result, button) {
  const data = new FormData(form);
  const customerId = String(data.get('customerId'));
  localStorage.setItem(CUSTOMER, customerId);
  button.disabled = true;
  result.replaceChildren('Paying…');
  let payment;
  try {
    payment = await api('/v1/payments', {
      method: 'POST',
      headers: { 'idempotency-key': purchaseKey },
      body: { customerId, items: [{ productId: data.get('productId'), quantity: Number(data.get('quantity')) }], billingKey: data.get('billingKey') },
    });
    newPurchase();
  } catch (error) {
    // A refusal is an answer: the next try is a new purchase. No answer: the same one.
    if (error instanceof ApiError) newPurchase();
    result.replaceChildren(h('p', { role: 'alert', class: 'error' }, `Not paid: ${error.message}`));
    button.disabled = false;
    return;
  }
  button.disabled = false;
  await watch(payment, customerId, result).catch((error) => result.append(h('p', { role: 'alert', class: 'error' }, `Could not follow the payment: ${error.message}`)));
}

async function start() {
  try {
    const products = (await api('/v1/products?limit=100')).data;
    if (products.length === 0) return show(h('p', {}, 'Nothing is on sale yet.'));
    const result = h('div', { id: 'result', 'aria-live': 'polite' });
    const button = h('button', { type: 'submit', id: 'pay' }, 'Pay');
    const field = (id, label, input) => h('div', { class: 'field' }, h('label', { for: id }, label), input);
    const form = h(
      'form',
      { class: 'card', onsubmit: (event) => (event.preventDefault(), pay(form, result, button)), oninput: newPurchase },
      h('h1', {}, 'Checkout'),
      field('productId', 'Product', h('select', { id: 'productId', name: 'productId' }, products.map((p) => h('option', { value: p.id }, `${p.name}: ${money(p.price, p.currency)} (${p.stock} left)`)))),
      field('quantity', 'Quantity', h('input', { id: 'quantity', name: 'quantity', type: 'number', min: 1, max: 1000, value: 1, required: true })),
      field('customerId', 'Customer id', h('input', { id: 'customerId', name: 'customerId', required: true, maxlength: 255, value: localStorage.getItem(CUSTOMER) ?? 'customer-1' })),
      field('billingKey', 'Card', h('select', { id: 'billingKey', name: 'billingKey' }, TEST_CARDS.map(([key, label]) => h('option', { value: key }, label)))),
      button,
    );
    show(form, result);
  } catch (error) {
    show(h('p', { role: 'alert', class: 'error' }, `Error: ${error.message}`));
  }
}

start();
