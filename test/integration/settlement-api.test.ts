import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addDays, dateAt } from '../../src/settlement/business-day.ts';
import { ADMIN_TOKEN, purchase, startHarness, type Harness } from '../support/harness.ts';
import { expectProblem, misspellingsOf } from '../support/problems.ts';

const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
const SEOUL = 'Asia/Seoul';
const todayInSeoul = () => dateAt(Date.now(), SEOUL);

describe('partners', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h.close());

  const post = (body: unknown) => h.request('POST', '/v1/admin/partners', { body, headers: admin });

  it('registers a partner, refuses the same id twice, and changes its name and fee', async () => {
    const created = await post({ id: 'partner-1', name: 'Seoul Books', feeRateBps: 300 });
    expect(created.status).toBe(201);
    expect(created.headers.get('location')).toBe('/v1/admin/partners/partner-1');
    expect(created.body).toEqual({
      id: 'partner-1',
      name: 'Seoul Books',
      feeRateBps: 300,
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
    });
    expectProblem(await post({ id: 'partner-1', name: 'Other', feeRateBps: 0 }), 409, 'conflict');

    const changed = await h.request('PATCH', '/v1/admin/partners/partner-1', { body: { feeRateBps: 10_000 }, headers: admin });
    expect(changed.body).toMatchObject({ id: 'partner-1', name: 'Seoul Books', feeRateBps: 10_000 });
    const renamed = await h.request('PATCH', '/v1/admin/partners/partner-1', { body: { name: 'Busan Books' }, headers: admin });
    expect(renamed.body).toMatchObject({ name: 'Busan Books', feeRateBps: 10_000 });
    expect((await h.request('GET', '/v1/admin/partners/partner-1', { headers: admin })).body).toMatchObject({ name: 'Busan Books' });
    // An id with characters a path must escape is still one partner.
    await post({ id: 'p/ä 1', name: 'Escaped', feeRateBps: 0 });
    expect((await h.request('GET', `/v1/admin/partners/${encodeURIComponent('p/ä 1')}`, { headers: admin })).body).toMatchObject({ id: 'p/ä 1' });
  });

  it('answers 404 for a partner nobody registered', async () => {
    expectProblem(await h.request('GET', '/v1/admin/partners/nobody', { headers: admin }), 404, 'not_found');
    expectProblem(await h.request('PATCH', '/v1/admin/partners/nobody', { body: { name: 'x' }, headers: admin }), 404, 'not_found');
  });

  it('refuses bad partners with a 400 and changes nothing', async () => {
    await post({ id: 'steady', name: 'Steady', feeRateBps: 150 });
    const badBodies: unknown[] = [
      {},
      [],
      { id: 'x', name: 'X' },
      { id: 'x', name: 'X', feeRateBps: -1 },
      { id: 'x', name: 'X', feeRateBps: 10_001 },
      { id: 'x', name: 'X', feeRateBps: 1.5 },
      { id: 'x', name: 'X', feeRateBps: '100' },
      { id: 'x', name: 'X', feeRateBps: null },
      { id: '', name: 'X', feeRateBps: 1 },
      { id: 'x'.repeat(256), name: 'X', feeRateBps: 1 },
      { id: 7, name: 'X', feeRateBps: 1 },
      { id: 'x', name: '   ', feeRateBps: 1 },
      { id: 'x', name: 'n'.repeat(201), feeRateBps: 1 },
      { id: 'x', name: { nested: { deeper: [1, 2, 3] } }, feeRateBps: 1 },
      { id: 'x', name: 'X', feeRateBps: 1, partnerSince: 'yesterday' },
    ];
    for (const body of badBodies) expectProblem(await post(body), 400, 'validation_failed', JSON.stringify(body));
    // Only an object is a JSON body here.
    for (const body of ['partner', null, 7]) expectProblem(await post(body), 400, 'invalid_json', JSON.stringify(body));
    expectProblem(await h.request('POST', '/v1/admin/partners', { raw: '{"id":', headers: { ...admin, 'content-type': 'application/json' } }), 400, 'invalid_json');
    expectProblem(await h.request('POST', '/v1/admin/partners', { raw: JSON.stringify({ id: 'x', name: 'a'.repeat(70_000), feeRateBps: 1 }), headers: { ...admin, 'content-type': 'application/json' } }), 413, 'payload_too_large');
    for (const body of [{}, { feeRateBps: 10_001 }, { name: '' }, { feeRateBps: '5' }, [], { id: 'other', name: 'Renamed' }]) {
      expectProblem(await h.request('PATCH', '/v1/admin/partners/steady', { body, headers: admin }), 400, 'validation_failed', JSON.stringify(body));
    }
    expectProblem(await h.request('GET', '/v1/admin/partners/x', { headers: admin }), 404, 'not_found');
    expect((await h.request('GET', '/v1/admin/partners/steady', { headers: admin })).body).toMatchObject({ name: 'Steady', feeRateBps: 150 });
  });
});

describe('settlements of real payments', () => {
  let h: Harness;
  let date: string;
  const PRICE = 10_001;

  beforeAll(async () => {
    h = await startHarness({}, {}, { proxy: true });
    await h.request('POST', '/v1/admin/partners', { body: { id: 'p-fee', name: 'Fee', feeRateBps: 300 }, headers: admin });
    await h.createProduct({ id: 'seat', price: PRICE, stock: 100, partnerId: 'p-fee' });
    await h.createProduct({ id: 'book', price: 7_000, stock: 100, partnerId: 'p-free' });
    const pay = async (key: string, productId: string, billingKey = 'bk_test_ok') => {
      const { body } = await h.pay(key, purchase(productId, 1, billingKey), '?wait=10');
      return h.settled(body.id);
    };
    const paid = await Promise.all([pay('s-1', 'seat'), pay('s-2', 'seat'), pay('s-3', 'seat'), pay('b-1', 'book')]);
    expect(paid.map((p) => p.status)).toEqual(['completed', 'completed', 'completed', 'completed']);
    expect((await pay('s-declined', 'seat', 'bk_test_decline')).status).toBe('failed');
    // Charged, then a 5xx: the charge is learned by asking the PG, with the PG's time.
    expect((await pay('b-ambiguous', 'book', 'bk_test_ambiguous')).status).toBe('completed');
    await h.request('POST', `/v1/payments/${paid[0].id}/cancel`, { body: { reason: 'seat returned', amount: 5_000 }, headers: { 'idempotency-key': 'refund-1' } });
    expect((await h.settled(paid[0].id)).status).toBe('partially_cancelled');

    const days = await h.service.db.read.all<{ at: number }>('select distinct at from money_movements');
    const dates = new Set(days.map(({ at }) => dateAt(at, SEOUL)));
    expect(dates.size, 'the payments straddle midnight in Seoul: run the test again').toBe(1);
    [date] = [...dates] as [string];
  });
  afterAll(() => h.close());

  it('adds up each partner’s day and finds the PG in agreement', async () => {
    const run = await h.request('POST', '/v1/admin/settlements/run', { body: { date }, headers: admin });
    expect(run.status).toBe(202);
    const fee = Math.floor((PRICE * 300) / 10_000);
    expect(run.body.data).toEqual([
      {
        id: expect.stringMatching(/^stl_/),
        partnerId: 'p-fee',
        date,
        status: 'completed',
        currency: 'KRW',
        paymentCount: 3,
        grossAmount: 3 * PRICE,
        refundCount: 1,
        refundAmount: 5_000,
        feeAmount: 3 * fee,
        netAmount: 3 * PRICE - 5_000 - 3 * fee,
        discrepancies: [],
        createdAt: expect.any(String),
        completedAt: expect.any(String),
      },
      expect.objectContaining({ partnerId: 'p-free', status: 'completed', paymentCount: 2, grossAmount: 14_000, feeAmount: 0, netAmount: 14_000, discrepancies: [] }),
    ]);
    expect(h.proxy!.seen.filter((r) => r.path.startsWith('/payments-by-cursor')).length).toBeGreaterThanOrEqual(1);
  });

  it('shows a settlement with its lines, and the lines as CSV', async () => {
    const { body } = await h.request('GET', `/v1/admin/settlements?date=${date}&partnerId=p-fee`, { headers: admin });
    const [settlement] = body.data;
    const detail = await h.request('GET', `/v1/admin/settlements/${settlement.id}`, { headers: admin });
    expect(detail.body.lines.map((l: { kind: string }) => l.kind).sort()).toEqual(['payment', 'payment', 'payment', 'refund']);
    expect(detail.body.lines[0]).toEqual({ paymentId: expect.stringMatching(/^pay_/), kind: 'payment', amount: PRICE, fee: 300, at: expect.any(String) });

    const csv = await fetch(`${h.url}/v1/admin/settlements/${settlement.id}/lines.csv`, { headers: admin });
    expect(csv.status).toBe(200);
    expect(csv.headers.get('content-type')).toMatch(/^text\/csv/);
    const text = await csv.text();
    const records = text.split('\r\n');
    expect(records[0]).toBe('payment_id,kind,amount,fee,at');
    expect(records.at(-1)).toBe('');
    expect(records.slice(1, -1)).toEqual(detail.body.lines.map((l: Record<string, unknown>) => [l.paymentId, l.kind, l.amount, l.fee, l.at].join(',')));
  });

  it('lists settlements by date, partner and status, a page at a time', async () => {
    const list = (query: string) => h.request('GET', `/v1/admin/settlements${query}`, { headers: admin });
    expect((await list(`?date=${date}`)).body.data.map((s: { partnerId: string }) => s.partnerId)).toEqual(['p-fee', 'p-free']);
    expect((await list('?partnerId=p-free')).body.data).toHaveLength(1);
    expect((await list('?status=failed')).body.data).toEqual([]);
    const first = await list('?limit=1');
    expect(first.body.data).toHaveLength(1);
    const second = await list(`?limit=1&cursor=${first.body.nextCursor}`);
    expect(second.body.data.map((s: { partnerId: string }) => s.partnerId)).toEqual(['p-free']);
    expect(second.body.nextCursor).toBeNull();
  });

  it('refuses bad dates, filters and ids with a 4xx, and runs nothing', async () => {
    const run = (body: unknown) => h.request('POST', '/v1/admin/settlements/run', { body, headers: admin });
    const badRuns = [
      {},
      { date: '2026-02-30' },
      { date: 20261201 },
      { date: '2026-12-01T00:00:00Z' },
      { date: null },
      [],
      { date: ['2026-12-01'] },
      { date: '0100-01-01' },
      { date: '1999-12-31' },
      { date: '2026-11-01', partnerId: 'p-fee' },
    ];
    for (const body of badRuns) {
      expectProblem(await run(body), 400, 'validation_failed', JSON.stringify(body));
    }
    expectProblem(await run({ date: addDays(todayInSeoul(), 1) }), 422, 'date_in_future');
    const badQueries = ['?status=bogus', '?limit=0', '?limit=1001', '?limit=0x10', '?limit=1e2', '?limit=-1', '?cursor=garbage', '?date=2026-13-01', `?cursor=${'x'.repeat(500)}`, '?date=1&date=2'];
    for (const query of badQueries) {
      expectProblem(await h.request('GET', `/v1/admin/settlements${query}`, { headers: admin }), 400, 'validation_failed', query);
    }
    expectProblem(await h.request('GET', '/v1/admin/settlements/not-a-settlement', { headers: admin }), 400, 'validation_failed');
    expectProblem(await h.request('GET', '/v1/admin/settlements/stl_000000000aaaaaaaaaaaaaaaa', { headers: admin }), 404, 'not_found');
    expectProblem(await h.request('GET', '/v1/admin/settlements/stl_000000000aaaaaaaaaaaaaaaa/lines.csv', { headers: admin }), 404, 'not_found');
    expect(await h.service.db.read.all('select date from settlement_runs')).toEqual([{ date }]);
  });

  it('lets only the exact paths reach the handlers, and only with the token', async () => {
    const settlement = (await h.request('GET', '/v1/admin/settlements?limit=1', { headers: admin })).body.data[0];
    const routes: Array<[string, string]> = [
      ['POST', '/v1/admin/partners'],
      ['GET', '/v1/admin/partners/p-fee'],
      ['PATCH', '/v1/admin/partners/p-fee'],
      ['POST', '/v1/admin/settlements/run'],
      ['GET', '/v1/admin/settlements'],
      ['GET', `/v1/admin/settlements/${settlement.id}`],
      ['GET', `/v1/admin/settlements/${settlement.id}/lines.csv`],
    ];
    const body = { id: 'sneaky', name: 'Sneaky', feeRateBps: 0, date };
    for (const [method, path] of routes) {
      const badTokens: Array<Record<string, string>> = [{}, { authorization: 'Bearer wrong-token-wrong-token' }, { authorization: ADMIN_TOKEN }];
      for (const headers of badTokens) {
        expectProblem(await h.request(method, path, { body: method === 'GET' ? undefined : body, headers }), 401, 'unauthorized', `${method} ${path}`);
      }
      for (const misspelt of misspellingsOf(path)) {
        const reply = await h.request(method, misspelt, { body: method === 'GET' ? undefined : body, headers: admin });
        // Not our path: nothing there; or it spells a settlement id (`…/settlements/RUN`), which
        // is not one, or is one that takes no POST.
        const expected = { 400: 'validation_failed', 404: 'not_found', 405: 'method_not_allowed' }[reply.status as 400 | 404 | 405];
        expectProblem(reply, reply.status, expected ?? 'a 400, 404 or 405', `${method} ${misspelt}`);
      }
    }
    expectProblem(await h.request('GET', '/v1/admin/partners/sneaky', { headers: admin }), 404, 'not_found');
    expect((await h.request('GET', '/v1/admin/partners/p-fee', { headers: admin })).body.name).toBe('Fee');
  });
});

describe('the daily schedule', () => {
  it('settles the day before once, with two processes firing on one database', async () => {
    const every = { SETTLEMENT_CRON: '* * * * * *' };
    const h = await startHarness(every, {}, { proxy: true });
    try {
      await h.request('POST', '/v1/admin/partners', { body: { id: 'p-1', name: 'One', feeRateBps: 100 }, headers: admin });
      await h.startPeer('peer-settlement', every);
      const yesterday = addDays(todayInSeoul(), -1);
      await waitUntil(async () => (await h.request('GET', `/v1/admin/settlements?date=${yesterday}`, { headers: admin })).body.data[0]?.status === 'completed');
      // Both fire every second for a while longer.
      await new Promise((resolve) => setTimeout(resolve, 2_500));
      expect(await h.service.db.read.all('select date, requests, status from settlement_runs')).toEqual([{ date: yesterday, requests: 1, status: 'completed' }]);
      expect(await h.service.db.read.all('select partner_id as "partnerId" from settlements')).toEqual([{ partnerId: 'p-1' }]);
      expect(h.proxy!.seen.filter((r) => r.path.startsWith('/payments-by-cursor'))).toHaveLength(1);
    } finally {
      await h.close();
    }
  });

  it('settles the dates whose firings it missed while down, once settlement has begun', async () => {
    const h = await startHarness();
    try {
      const today = todayInSeoul();
      const first = addDays(today, -4);
      await h.request('POST', '/v1/admin/settlements/run', { body: { date: first }, headers: admin });
      // Down for the last three midnights: the process that starts afterwards settles each day missed.
      await h.restart({ SETTLEMENT_CRON: '0 0 0 * * *' });
      expect(await h.service.db.read.all('select date, requests from settlement_runs order by date')).toEqual(
        [-4, -3, -2, -1].map((days) => ({ date: addDays(today, days), requests: 1 })),
      );
      // Started again: nothing is asked twice.
      await h.restart({ SETTLEMENT_CRON: '0 0 0 * * *' });
      expect(await h.service.db.read.get('select sum(requests) as n from settlement_runs')).toEqual({ n: 4 });
    } finally {
      await h.close();
    }
  });
});

async function waitUntil(condition: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met before the deadline');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
