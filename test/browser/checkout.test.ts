import { afterEach, describe, expect, it } from 'vitest';
import { useBrowser } from '../support/browser.ts';
import { startHarness, type Harness } from '../support/harness.ts';

// Seed 004's customer pages in a real headless Chromium: the checkout pays through the
// public API and shows the outcome as it arrives; my-page lists and cancels.

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});
// After the harness's hook: after-hooks run in reverse, so the pages close before the service stops.
const browser = useBrowser();

describe('the checkout page and my-page', () => {
  it('completes a purchase, lists it on my-page and cancels it there', async () => {
    h = await startHarness();
    await h.createProduct({ id: 'seat-1', name: 'Rust course seat', price: 30_000, stock: 10 });
    await h.createProduct({ id: 'book-1', name: 'Payments book', price: 15_000, stock: 3 });
    const rig = await browser.openPage();
    const { page } = rig;
    await page.goto(`${h.url}/payment`);
    await page.getByLabel('Product').selectOption('book-1');
    await page.getByLabel('Quantity').fill('2');
    await page.getByLabel('Customer id').fill('park');
    await page.getByLabel('Card').selectOption('bk_test_ok');
    await page.getByRole('button', { name: 'Pay' }).click();
    await expect.poll(() => page.locator('#outcome').getAttribute('data-status'), { timeout: 10_000 }).toBe('completed');
    await rig.screenshot('checkout-paid');

    const { body } = await h.request('GET', '/v1/payments?customerId=park');
    expect(body.data).toMatchObject([{ status: 'completed', amount: 30_000, items: [{ productId: 'book-1', quantity: 2 }] }]);
    expect((await h.request('GET', '/v1/products/book-1')).body.stock).toBe(1);

    await page.getByRole('link', { name: 'My payments' }).click();
    const row = page.locator(`#history tr[data-payment="${body.data[0].id}"]`);
    await expect.poll(() => row.count()).toBe(1);
    await rig.screenshot('mypage');
    await row.getByRole('button', { name: 'Cancel' }).click();
    await expect.poll(() => row.locator('.status').textContent(), { timeout: 10_000 }).toBe('cancelled');
    expect((await h.request('GET', `/v1/payments/${body.data[0].id}`)).body).toMatchObject({ status: 'cancelled', cancelledAmount: 30_000 });
    expect((await h.request('GET', '/v1/products/book-1')).body.stock).toBe(3);
  });

  it('says a declined card was not charged', async () => {
    h = await startHarness();
    await h.createProduct({ id: 'seat-1', price: 30_000, stock: 10 });
    const rig = await browser.openPage();
    const { page } = rig;
    await page.goto(`${h.url}/payment`);
    await page.getByLabel('Card').selectOption('bk_test_decline');
    await page.getByRole('button', { name: 'Pay' }).click();
    await expect.poll(() => page.locator('#outcome').getAttribute('data-status'), { timeout: 10_000 }).toBe('failed');
    await expect.poll(() => page.locator('#outcome').textContent()).toContain('Not paid (card declined). Any amount taken is returned.');
    expect((await h.request('GET', '/v1/products/seat-1')).body.stock).toBe(10);
  });
});
