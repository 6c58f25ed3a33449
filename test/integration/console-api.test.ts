import { get } from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { insertPaymentRow } from '../support/payment-rows.ts';
import { ADMIN_TOKEN, purchase, startHarness, type Harness } from '../support/harness.ts';
import { expectProblem, misspellingsOf } from '../support/problems.ts';

// What the console reads besides the payment API: the list's partner and date filters,
// the CSV export, the live figures, and the pages and assets themselves.

let h: Harness;
beforeEach(async () => {
  h = await startHarness();
  await h.createProduct({ id: 'seat-1', price: 30_000, stock: 50, partnerId: 'academy' });
  await h.createProduct({ id: 'book-1', price: 15_000, stock: 50, partnerId: 'press' });
});
afterEach(async () => {
  await h.close();
});

const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
const ids = (reply: { body: { data: Array<{ id: string }> } }) => reply.body.data.map((p) => p.id);

describe('filtering payments by partner and creation time', () => {
  it('keeps the payments of one partner, created in [from, to)', async () => {
    const seat = (await h.pay('k-1', purchase('seat-1'), '?wait=10')).body;
    const book = (await h.pay('k-2', purchase('book-1'), '?wait=10')).body;
    expect(ids(await h.request('GET', '/v1/payments?partnerId=academy'))).toEqual([seat.id]);
    expect(ids(await h.request('GET', '/v1/payments?partnerId=nobody'))).toEqual([]);
    const from = encodeURIComponent(book.createdAt);
    expect(ids(await h.request('GET', `/v1/payments?from=${from}`))).toEqual([book.id]);
    expect(ids(await h.request('GET', `/v1/payments?to=${from}`))).toEqual([seat.id]);
    // An offset other than Z names the same instant.
    const seoul = new Date(Date.parse(seat.createdAt) + 9 * 3_600_000).toISOString().replace('Z', '+09:00');
    expect(ids(await h.request('GET', `/v1/payments?from=${encodeURIComponent(seoul)}&partnerId=academy`))).toEqual([seat.id]);
  });

  it('refuses times without an offset, and anything else that is not an instant', async () => {
    for (const bad of ['2026-12-01', '2026-12-01T00:00:00', 'yesterday', '', '2026-13-01T00:00:00Z']) {
      expectProblem(await h.request('GET', `/v1/payments?from=${encodeURIComponent(bad)}`), 400, 'validation_failed', bad);
    }
    expectProblem(await h.request('GET', '/v1/payments?to=2026-12-01T00:00:00Z&to=2026-12-02T00:00:00Z'), 400, 'validation_failed');
    expectProblem(await h.request('GET', `/v1/payments?partnerId=${'p'.repeat(256)}`), 400, 'validation_failed');
  });
});

describe('GET /v1/admin/payments/export', () => {
  it('writes the chosen payments as CSV, newest first, formulas kept as text', async () => {
    const first = (await h.pay('k-1', { ...purchase('seat-1'), orderName: '=HYPERLINK("http://evil")' }, '?wait=10')).body;
    const second = (await h.pay('k-2', purchase('book-1', 1, 'bk_test_decline'), '?wait=10')).body;
    const reply = await h.request('GET', '/v1/admin/payments/export', { headers: admin });
    expect(reply.status).toBe(200);
    expect(reply.headers.get('content-type')).toContain('text/csv');
    const lines = (reply.body as string).split('\r\n');
    expect(lines[0]).toBe('id,status,state,amount,cancelled_amount,currency,customer_id,partner_id,order_name,failure_code,created_at,updated_at');
    expect(lines[1]).toMatch(new RegExp(`^${second.id},failed,failed,15000,0,KRW,c-1,press,`));
    expect(lines[2]).toContain(`${first.id},completed,completed,30000,0,KRW,c-1,academy,"'=HYPERLINK(""http://evil"")",,`);
    expect(lines[3]).toBe('');
    const filtered = await h.request('GET', '/v1/admin/payments/export?status=completed', { headers: admin });
    expect((filtered.body as string).trim().split('\r\n')).toHaveLength(2);
  });

  it('streams every page of a large export, each payment once', async () => {
    // Rows as the host commits them, many sharing a creation instant (the page boundary's tie).
    await h.service.db.commit.run(async (tx) => {
      for (let i = 0; i < 1_234; i++) {
        const id = `pay_${String(i).padStart(5, '0')}`;
        await insertPaymentRow(tx, id, 'completed', { status: 'completed', createdAt: 1_000 + Math.floor(i / 7) });
      }
    });
    const reply = await h.request('GET', '/v1/admin/payments/export?status=completed', { headers: admin });
    const exported = (reply.body as string).trim().split('\r\n').slice(1).map((line) => line.split(',')[0]);
    expect(exported).toHaveLength(1_234);
    expect(new Set(exported).size).toBe(1_234);
  });

  it('needs the admin token and refuses bad filters', async () => {
    expectProblem(await h.request('GET', '/v1/admin/payments/export'), 401, 'unauthorized');
    expectProblem(await h.request('GET', '/v1/admin/payments/export', { headers: { authorization: 'Bearer wrong' } }), 401, 'unauthorized');
    expectProblem(await h.request('GET', '/v1/admin/payments/export?status=paid', { headers: admin }), 400, 'validation_failed');
    expectProblem(await h.request('GET', '/v1/admin/payments/export?from=2026-12-01', { headers: admin }), 400, 'validation_failed');
    for (const path of misspellingsOf('/v1/admin/payments/export')) {
      const reply = await h.request('GET', path);
      expect([401, 404], path).toContain(reply.status);
    }
    expect((await h.request('POST', '/v1/admin/payments/export', { headers: admin })).status).toBe(405);
  });
});

describe('the live figures', () => {
  it('counts payments by status and reports the PG and this process', async () => {
    await h.pay('k-1', purchase('seat-1'), '?wait=10');
    const { status, body } = await h.request('GET', '/v1/admin/figures', { headers: admin });
    expect(status).toBe(200);
    expect(body).toMatchObject({
      actorsInMemory: expect.any(Number),
      snapshotWriteFailures: 0,
      pg: { consecutiveFailures: 0, lastOkAt: expect.any(String), lastFailureAt: null, queued: 0, mock: false },
      paymentsByStatus: { completed: 1, failed: 0, requires_attention: 0 },
      openFailedEvents: 0,
    });
  });

  it('streams them as Server-Sent Events, again when they change', async () => {
    const controller = new AbortController();
    const response = await fetch(`${h.url}/v1/admin/figures/live`, { headers: admin, signal: controller.signal });
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = '';
    const completedCount = () => [...text.matchAll(/"completed":(\d+)/g)].map((m) => Number(m[1]));
    const readUntil = async (done: () => boolean) => {
      while (!done()) text += (await reader.read()).value ?? '';
    };
    await readUntil(() => completedCount().length > 0);
    expect(text.startsWith('event: figures\ndata: {')).toBe(true);
    expect(completedCount()).toEqual([0]);
    await h.pay('k-1', purchase('seat-1'), '?wait=10');
    await readUntil(() => completedCount().includes(1));
    controller.abort();
  });

  it('needs the admin token (its scheme in any case, as RFC 9110 has it)', async () => {
    expect((await h.request('GET', '/v1/admin/figures', { headers: { authorization: `bearer ${ADMIN_TOKEN}` } })).status).toBe(200);
    expect((await h.request('GET', '/v1/admin/figures', { headers: { authorization: `BEARER ${ADMIN_TOKEN}` } })).status).toBe(200);
    expectProblem(await h.request('GET', '/v1/admin/figures', { headers: { authorization: `Bearer ${ADMIN_TOKEN.toUpperCase()}` } }), 401, 'unauthorized');
    expectProblem(await h.request('GET', '/v1/admin/figures'), 401, 'unauthorized');
    expectProblem(await h.request('GET', '/v1/admin/figures/live'), 401, 'unauthorized');
    for (const path of [...misspellingsOf('/v1/admin/figures'), ...misspellingsOf('/v1/admin/figures/live')]) {
      expect([401, 404], path).toContain((await h.request('GET', path)).status);
    }
  });
});

describe('the pages', () => {
  it('serves the console, the checkout and my-page as HTML that loads only this origin', async () => {
    for (const path of ['/console', '/console/attention', '/console/figures', '/console/settlements', '/console/events', '/console/payments/pay_x', '/payment', '/payment/mypage']) {
      const reply = await h.request('GET', path);
      expect(reply.status, path).toBe(200);
      expect(reply.headers.get('content-type')).toContain('text/html');
      expect(reply.headers.get('content-security-policy')).toContain("default-src 'self'");
      expect(reply.body as string).not.toMatch(/(src|href)="(https?:)?\/\//);
    }
    const root = await fetch(`${h.url}/`, { redirect: 'manual' });
    expect(root.status).toBe(302);
    expect(root.headers.get('location')).toBe('/console');
  });

  it('serves its scripts and Mermaid from the repository and node_modules, and nothing else', async () => {
    const mermaid = await h.request('GET', '/assets/mermaid.min.js');
    expect(mermaid.status).toBe(200);
    expect(mermaid.headers.get('content-type')).toContain('text/javascript');
    expect((await h.request('GET', '/assets/style.css')).headers.get('content-type')).toContain('text/css');
    // Revalidated, not sent again: a browser asking with the ETag gets a 304.
    const etag = mermaid.headers.get('etag')!;
    expect(etag).toMatch(/^"[\w-]+"$/);
    // (node:http: fetch would add Cache-Control: no-cache to a conditional request, as browsers do not.)
    const revalidated = await new Promise<number | undefined>((resolve, reject) =>
      get(`${h.url}/assets/mermaid.min.js`, { headers: { 'if-none-match': etag } }, (res) => (res.resume(), resolve(res.statusCode))).on('error', reject),
    );
    expect(revalidated).toBe(304);
    for (const path of ['/assets/nope.js', '/assets/..%2Fpage-routes.ts', '/assets/constructor', '/assets/__proto__', '/assets/', '/ASSETS/style.css', '/console/', '/Console', '/payment/', '/payment/MyPage']) {
      expectProblem(await h.request('GET', path), 404, 'not_found', path);
    }
    expect((await h.request('POST', '/console')).status).toBe(405);
  });
});

describe("the local mock PG's chaos controls", () => {
  let local: Harness;
  beforeEach(async () => {
    local = await startHarness({ PG_MOCK_CONTROLS: '1' }, {}, { proxy: true });
  });
  afterEach(async () => {
    await local.close();
  });

  it('reads and changes the mock PG\'s chaos settings through the service', async () => {
    const read = await local.request('GET', '/v1/admin/mock-pg/chaos', { headers: admin });
    expect(read.status).toBe(200);
    expect(read.body).toMatchObject({ failureRate: 0, cancelRefusalRate: 0, delayMs: expect.any(Number) });
    const changed = await local.request('POST', '/v1/admin/mock-pg/chaos', { headers: admin, body: { cancelRefusalRate: 1, delayMs: 2_000 } });
    expect(changed.body).toMatchObject({ cancelRefusalRate: 1, delayMs: 2_000 });
    expect(local.mock.chaos()).toMatchObject({ cancelRefusalRate: 1, delayMs: 2_000, failureRate: 0 });
  });

  it('refuses bad settings without asking the mock, and needs the admin token', async () => {
    for (const body of [{ failureRate: 2 }, { delayMs: -1 }, { failureRate: '0.5' }, { unknown: 1 }, []]) {
      expectProblem(await local.request('POST', '/v1/admin/mock-pg/chaos', { headers: admin, body }), 400, 'validation_failed', JSON.stringify(body));
    }
    expectProblem(await local.request('POST', '/v1/admin/mock-pg/chaos', { headers: admin }), 400, 'validation_failed');
    expect(local.mock.chaos().failureRate).toBe(0);
    expectProblem(await local.request('GET', '/v1/admin/mock-pg/chaos'), 401, 'unauthorized');
    expectProblem(await local.request('POST', '/v1/admin/mock-pg/chaos', { body: { failureRate: 1 } }), 401, 'unauthorized');
    expect(local.mock.chaos().failureRate).toBe(0);
    for (const path of misspellingsOf('/v1/admin/mock-pg/chaos')) expect([401, 404], path).toContain((await local.request('GET', path)).status);
  });

  it('answers 502 when the mock does not answer', async () => {
    local.proxy!.dropNext('GET', /^\/__chaos/);
    expectProblem(await local.request('GET', '/v1/admin/mock-pg/chaos', { headers: admin }), 502, 'mock_pg_unreachable');
  });

  it('is not there when the PG is not our mock', async () => {
    expectProblem(await h.request('GET', '/v1/admin/mock-pg/chaos', { headers: admin }), 404, 'not_found');
    expectProblem(await h.request('POST', '/v1/admin/mock-pg/chaos', { headers: admin, body: { failureRate: 1 } }), 404, 'not_found');
  });
});
