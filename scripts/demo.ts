/**
 * `npm run demo`: creates products on a running service and buys them a few ways,
 * then prints how each payment ended. Talks to PAYSTATE_URL (default the local service).
 */
const baseUrl = process.env.PAYSTATE_URL ?? `http://127.0.0.1:${process.env.PORT ?? 3000}`;
const adminToken = process.env.ADMIN_TOKEN ?? 'local-admin-token-change-me';
const run = Date.now().toString(36);

async function call(method: string, path: string, body: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  const json = (await response.json()) as Record<string, unknown>;
  if (response.status >= 400) throw new Error(`${method} ${path} → ${response.status} ${JSON.stringify(json)}`);
  return json;
}

const product = (id: string, name: string, price: number, stock: number) =>
  call('POST', '/v1/products', { id: `${id}-${run}`, name, price, stock, partnerId: 'demo-partner' }, { authorization: `Bearer ${adminToken}` });

const scenarios = [
  { label: 'card approved', productId: `book-${run}`, quantity: 2, billingKey: 'bk_test_ok' },
  { label: 'card declined', productId: `book-${run}`, quantity: 1, billingKey: 'bk_test_decline' },
  { label: 'PG charged, then answered 5xx', productId: `book-${run}`, quantity: 1, billingKey: 'bk_test_ambiguous' },
  { label: 'last seat', productId: `seat-${run}`, quantity: 1, billingKey: 'bk_test_ok' },
  { label: 'seat sold out', productId: `seat-${run}`, quantity: 1, billingKey: 'bk_test_ok' },
];

await product('book', 'Designing Data-Intensive Applications', 15_000, 10);
await product('seat', 'Payments Engineering cohort seat', 300_000, 1);

const rows = [];
for (const [index, s] of scenarios.entries()) {
  const payment = await call(
    'POST',
    '/v1/payments?wait=20',
    { customerId: `demo-customer-${index}`, items: [{ productId: s.productId, quantity: s.quantity }], billingKey: s.billingKey },
    { 'idempotency-key': `demo-${run}-${index}` },
  );
  rows.push({ scenario: s.label, id: payment.id, status: payment.status, amount: payment.amount, failureCode: payment.failureCode ?? '' });
}
console.table(rows);
const first = rows[0]!;
console.log(`Transition log of ${first.id}: ${baseUrl}/v1/payments/${first.id}/events`);
