import { afterEach, describe, expect, it } from 'vitest';
import { dateAt } from '../../src/settlement/business-day.ts';
import { useBrowser } from '../support/browser.ts';
import { ADMIN_TOKEN, purchase, startHarness, type Harness } from '../support/harness.ts';

// The operator console in a real headless Chromium against a real service and mock PG.

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});
// After the harness's hook: after-hooks run in reverse, so the pages close before the service stops.
const browser = useBrowser();

const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };

describe('the payments list', () => {
  it('lists payments and filters them, the filters kept in the URL', async () => {
    h = await startHarness();
    await h.createProduct({ id: 'seat-1', price: 30_000, stock: 10 });
    const paid = await h.pay('k-1', purchase('seat-1', 1, 'bk_test_ok', 'kim'), '?wait=10');
    await h.pay('k-2', purchase('seat-1', 1, 'bk_test_ok', 'lee'), '?wait=10');
    const declined = await h.pay('k-3', purchase('seat-1', 1, 'bk_test_decline', 'kim'), '?wait=10');
    expect(declined.body.status).toBe('failed');

    const rig = await browser.openPage();
    const { page } = rig;
    await page.goto(`${h.url}/`);
    await rig.signIn();
    await expect.poll(() => page.locator('#payments tbody tr').count()).toBe(3);

    await page.getByLabel('Status').selectOption('failed');
    await page.getByRole('button', { name: 'Filter' }).click();
    await expect.poll(() => page.locator('#payments tbody tr').count()).toBe(1);
    expect(new URL(page.url()).searchParams.get('status')).toBe('failed');
    expect(await page.locator('#payments tbody tr').getAttribute('data-payment')).toBe(declined.body.id);

    await page.goto(`${h.url}/console?customerId=kim&status=completed`);
    await expect.poll(() => page.locator('#payments tbody tr').getAttribute('data-payment')).toBe(paid.body.id);
    await expect.poll(() => page.locator('#payments tbody tr').count()).toBe(1);
    // The token stayed in the tab's session storage: never in a URL.
    expect(rig.requested.some((url) => url.includes(ADMIN_TOKEN))).toBe(false);

    const download = page.waitForEvent('download');
    await page.getByRole('button', { name: 'Export CSV' }).click();
    const csv = await (await download).createReadStream().then(async (stream) => {
      let text = '';
      for await (const chunk of stream) text += chunk;
      return text;
    });
    expect(csv.split('\r\n').filter(Boolean)).toHaveLength(2);
    expect(csv).toContain(paid.body.id);
    await rig.screenshot('console-payments');
  });
});

describe("a payment's live diagram", () => {
  it('marks the state the payment is in and moves when the payment moves', { timeout: 60_000 }, async () => {
    h = await startHarness({ PG_TIMEOUT_MS: '30000' }, { chaos: { delayMs: 12_000 } });
    await h.createProduct({ id: 'seat-1', price: 30_000, stock: 10 });
    const { body } = await h.pay('k-delay', purchase('seat-1', 1, 'bk_test_delay'));
    const rig = await browser.openPage();
    const { page } = rig;
    await page.goto(`${h.url}/console/payments/${body.id}`);
    await rig.signIn();
    // The drawn state, read in one go: the marked node's id and the state the drawing is of.
    const drawn = () =>
      page.locator('#diagram').evaluate((el) => ({ state: (el as HTMLElement).dataset.state, marked: [...el.querySelectorAll('g.current')].map((g) => g.id) }));
    await expect.poll(drawn, { timeout: 10_000 }).toMatchObject({ state: 'charging.calling', marked: [expect.stringContaining('-state-charging__calling-')] });
    expect(await page.locator('#current-state').textContent()).toBe('Current state: charging.calling');
    await rig.screenshot('console-payment-charging');

    await expect.poll(drawn, { timeout: 20_000 }).toMatchObject({ state: 'completed', marked: [expect.stringContaining('-state-completed-')] });
    // The log below says why each step happened.
    await expect.poll(() => page.locator('#transitions').textContent()).toContain('pg.paid');
    await rig.screenshot('console-payment-completed');
  });
});

describe('the attention queue', () => {
  it('retries a real dead letter and resolves the payment, each with a reason', async () => {
    h = await startHarness({}, { chaos: { cancelRefusalRate: 1 } });
    await h.createProduct({ id: 'seat-1', price: 30_000, stock: 10 });
    const { body } = await h.pay('k-1', purchase('seat-1'), '?wait=10');
    await h.request('POST', `/v1/payments/${body.id}/cancel?wait=10`, { body: { reason: 'customer asked' }, headers: { 'idempotency-key': 'c-1' } });
    const stuck = await h.settled(body.id);
    expect(stuck.status).toBe('requires_attention');

    const rig = await browser.openPage();
    const { page } = rig;
    await page.goto(`${h.url}/console/attention`);
    await rig.signIn();
    const deadLetter = page.locator('#dead-letters tbody tr').first();
    await expect.poll(() => deadLetter.count()).toBe(1);
    await rig.screenshot('console-attention');

    // Escape closes a reason dialog and does nothing; the next one works as the first.
    await deadLetter.getByRole('button', { name: 'Retry…' }).click();
    await page.keyboard.press('Escape');
    await expect.poll(() => page.locator('dialog').count()).toBe(0);
    expect((await h.request('GET', '/v1/admin/failed-events?status=open', { headers: admin })).body.data).toHaveLength(1);
    // Retry: the card issuer refuses again, so the payment is back in the queue.
    await deadLetter.getByRole('button', { name: 'Retry…' }).click();
    await page.getByLabel('Reason (kept in the audit trail)').fill('issuer says try again');
    await page.getByRole('button', { name: 'Confirm' }).click();
    await expect
      .poll(async () => (await h!.request('GET', '/v1/admin/failed-events?status=retried', { headers: admin })).body.data.length)
      .toBe(1);

    await h.settled(body.id);
    await page.reload();
    const row = page.locator(`#attention tr[data-payment="${body.id}"]`);
    await row.getByRole('button', { name: 'Resolve…' }).click();
    await page.getByLabel('Outcome').selectOption('cancelled');
    await page.getByLabel('Reason (kept in the audit trail)').fill('refunded by bank transfer');
    await page.getByRole('button', { name: 'Confirm' }).click();
    await expect.poll(async () => (await h!.settled(body.id)).status).toBe('cancelled');
    const log = (await h.request('GET', `/v1/payments/${body.id}/events`)).body.data as Array<{ type: string; detail?: { actor: string; reason: string } }>;
    expect(log.find((e) => e.type === 'admin.resolve')?.detail).toMatchObject({ actor: 'browser-test', reason: 'refunded by bank transfer' });
  });
});

describe('live figures', () => {
  it("shows this process's figures and the payments by status as they change", async () => {
    h = await startHarness();
    await h.createProduct({ id: 'seat-1', price: 30_000, stock: 10 });
    const rig = await browser.openPage();
    const { page } = rig;
    await page.goto(`${h.url}/console/figures`);
    await rig.signIn();
    await expect.poll(() => page.locator('#count-completed td').textContent()).toBe('0');
    await h.pay('k-1', purchase('seat-1'), '?wait=10');
    await expect.poll(() => page.locator('#count-completed td').textContent(), { timeout: 10_000 }).toBe('1');
    expect(await page.locator('#pg-health td').textContent()).toBe('answering');
    // The harness's mock is not announced as ours: no chaos controls.
    expect(await page.locator('#no-chaos').count()).toBe(1);
  });

  it("changes the local mock PG's chaos settings", async () => {
    h = await startHarness({ PG_MOCK_CONTROLS: '1' });
    const rig = await browser.openPage();
    const { page } = rig;
    await page.goto(`${h.url}/console/figures`);
    await rig.signIn();
    await page.getByLabel('Refunds the issuer refuses (0–1)').fill('1');
    await page.getByLabel('Delay (ms)').fill('2500');
    await page.getByRole('button', { name: 'Apply' }).click();
    await expect.poll(() => page.locator('#chaos-status').textContent()).toContain('cancelRefusalRate 1');
    expect(h.mock.chaos()).toMatchObject({ cancelRefusalRate: 1, delayMs: 2_500, failureRate: 0 });
    await rig.screenshot('console-figures');
  });
});

describe('settlements and payment events', () => {
  it("runs a business date and shows each partner's figures, and lists a payment's events", async () => {
    h = await startHarness();
    await h.request('POST', '/v1/admin/partners', { headers: admin, body: { id: 'academy', name: 'Academy', feeRateBps: 300 } });
    await h.createProduct({ id: 'seat-1', price: 30_000, stock: 10, partnerId: 'academy' });
    const { body } = await h.pay('k-1', purchase('seat-1'), '?wait=10');
    const today = dateAt(Date.now(), 'Asia/Seoul');
    const rig = await browser.openPage();
    const { page } = rig;
    await page.goto(`${h.url}/console/settlements?date=${today}`);
    await rig.signIn();
    await page.getByRole('button', { name: 'Run this date' }).click();
    const row = page.locator('#settlements tr[data-partner="academy"]');
    await expect.poll(() => row.locator('.status').textContent(), { timeout: 15_000 }).toBe('completed');
    expect(await row.locator('.net').textContent()).toBe('₩29,100');
    await rig.screenshot('console-settlements');

    await page.goto(`${h.url}/console/events?paymentId=${body.id}`);
    await expect.poll(() => page.locator('#events tbody tr').count()).toBe(2);
    expect(await page.locator('#events tbody').textContent()).toContain('payment.completed');
  });
});
