import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import { PAYMENT_MACHINE_VERSION, paymentMachine } from '../../machines/payment.machine.ts';
import { toMermaid } from '../../src/diagram/mermaid.ts';
import { ADMIN_TOKEN, purchase, startHarness, type Harness } from '../support/harness.ts';
import { expectProblem } from '../support/problems.ts';

interface LiveSnapshot {
  status: string;
  state: string;
  value: unknown;
  updatedAt: string;
}

/** Reads a payment's live stream until `done` says so (or the deadline), then leaves. */
async function readLive(url: string, done: (seen: LiveSnapshot[]) => boolean, timeoutMs = 10_000) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  const response = await fetch(url, { signal: controller.signal });
  const seen: LiveSnapshot[] = [];
  const raw: string[] = [];
  const decoder = new TextDecoder();
  let buffer = '';
  try {
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const message = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        raw.push(message);
        const data = message.split('\n').find((line) => line.startsWith('data: '));
        if (message.startsWith('event: snapshot') && data) seen.push(JSON.parse(data.slice(6)) as LiveSnapshot);
      }
      if (done(seen)) break;
    }
  } catch (error) {
    if (!controller.signal.aborted) throw error;
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
  return { response, seen, raw };
}

describe('a payment, live', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
    await h.createProduct({ id: 'book-1', price: 15_000, stock: 10 });
  });
  afterAll(() => h.close());

  it('sends the committed snapshot at once and on every change, until the client leaves', async () => {
    // Charged after a delay: the stream opens while the payment waits for the PG.
    h.mock.setChaos({ delayMs: 1_000 });
    const { body } = await h.pay('k-live', purchase('book-1', 1, 'bk_test_delay'));
    const { response, seen } = await readLive(`${h.url}/v1/payments/${body.id}/live`, (s) => s.at(-1)?.status === 'completed');
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(seen[0]!.status).toBe('processing');
    expect(seen.at(-1)).toEqual({ status: 'completed', state: 'completed', value: 'completed', updatedAt: expect.any(String) });
    // Every step in between, each a different committed state, in order.
    expect(new Set(seen.map((s) => `${s.state}|${s.updatedAt}`)).size).toBe(seen.length);
    expect(seen.map((s) => s.state)).toContain('finalizing.fulfilling');
    expect(seen.find((s) => s.state === 'charging.calling')?.value).toEqual({ charging: 'calling' });
    // The client left: the service holds nothing for it.
    expect((await h.request('GET', `/v1/payments/${body.id}`)).body.status).toBe('completed');
  });

  it('serves several viewers of one payment, one of them leaving, the other still seeing changes', async () => {
    h.mock.setChaos({ delayMs: 1_000 });
    const { body } = await h.pay('k-two', purchase('book-1', 1, 'bk_test_delay'));
    const url = `${h.url}/v1/payments/${body.id}/live`;
    const leaving = readLive(url, (s) => s.length >= 1);
    const staying = readLive(url, (s) => s.at(-1)?.status === 'completed');
    expect((await leaving).seen[0]!.status).toBe('processing');
    const { seen } = await staying;
    expect(seen[0]!.status).toBe('processing');
    expect(seen.at(-1)!.status).toBe('completed');
  });

  it('sees a change another process committed', async () => {
    const { body } = await h.pay('k-elsewhere', purchase('book-1'), '?wait=10');
    const peer = await h.startPeer('elsewhere');
    const later = Date.now() + 1;
    let written: Promise<number> | undefined;
    const { seen } = await readLive(`${h.url}/v1/payments/${body.id}/live`, (s) => {
      // Written behind the service's back: committed by a peer on the same database.
      if (s.length === 1) {
        written = peer.db.commit.run((tx) => tx.run('update payments set updated_at = @later where id = @id', { later, id: body.id }));
      }
      return s.length === 2;
    });
    expect(await written).toBe(1);
    expect(seen.map((s) => s.updatedAt)).toEqual([body.updatedAt, new Date(later).toISOString()]);
  });

  it('answers 404 for a payment that does not exist, and 400 for an id that cannot be one', async () => {
    expectProblem(await h.request('GET', '/v1/payments/pay_nope/live'), 404, 'not_found');
    expectProblem(await h.request('GET', `/v1/payments/${'x'.repeat(300)}/live`), 400, 'validation_failed');
    expectProblem(await h.request('POST', '/v1/payments/pay_nope/live'), 405, 'method_not_allowed');
  });
});

describe('live streams, counted', () => {
  it('are ended when the service stops instead of holding the shutdown', async () => {
    const h = await startHarness();
    try {
      await h.createProduct({ id: 'book-1', price: 15_000, stock: 10 });
      const { body } = await h.pay('k-stop', purchase('book-1'), '?wait=10');
      const reader = (await fetch(`${h.url}/v1/payments/${body.id}/live`)).body!.getReader();
      await reader.read();
      const stopping = Date.now();
      // restart() stops the service first; it returns only once the open stream ended.
      await h.restart();
      await expect(reader.read().then(({ done }) => done, () => true)).resolves.toBe(true);
      // Ended, not cut after the grace period given to ordinary requests.
      expect(Date.now() - stopping).toBeLessThan(5_000);
    } finally {
      await h.close();
    }
  });

  it('are at most SSE_MAX_STREAMS at once: one more is a 503, and a freed place is taken again', async () => {
    const h = await startHarness({ SSE_MAX_STREAMS: '2' });
    try {
      await h.createProduct({ id: 'book-1', price: 15_000, stock: 10 });
      const { body } = await h.pay('k-cap', purchase('book-1'), '?wait=10');
      const url = `${h.url}/v1/payments/${body.id}/live`;
      const first = new AbortController();
      const second = new AbortController();
      await (await fetch(url, { signal: first.signal })).body!.getReader().read();
      await (await fetch(url, { signal: second.signal })).body!.getReader().read();
      const refused = await h.request('GET', `/v1/payments/${body.id}/live`);
      expectProblem(refused, 503, 'too_many_streams');
      expect(refused.headers.get('retry-after')).toBe('1');
      // The operators' figures have their own budget: the public streams cannot lock them out.
      const figures = new AbortController();
      const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
      expect((await fetch(`${h.url}/v1/admin/figures/live`, { headers: admin, signal: figures.signal })).status).toBe(200);
      figures.abort();
      first.abort();
      await expect.poll(async () => (await fetch(url, { signal: AbortSignal.timeout(2_000) }).then((r) => r.status, () => 0))).toBe(200);
      second.abort();
    } finally {
      await h.close();
    }
  });
});

describe('machine definitions', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h.close());

  it('serves the payment machine as Stately’s editor imports it, with named guards and actions', async () => {
    const { status, body } = await h.request('GET', '/v1/machines/payment');
    expect(status).toBe(200);
    expect(body).toMatchObject({ id: 'payment', version: PAYMENT_MACHINE_VERSION, diagram: toMermaid(paymentMachine) });
    expect(body.definition).toEqual(JSON.parse(JSON.stringify(paymentMachine.toJSON())));
    const text = JSON.stringify(body.definition);
    expect(text.includes('"guard":"chargePaid"'), 'the guard is named').toBe(true);
    expect(text.includes('"actions":["resetStep","takeChargePgTxId"]'), 'the actions are named').toBe(true);
    // A guard the editor cannot name (an inline function, and([...])) leaves a transition that
    // seems to fire unconditionally ahead of its siblings.
    const unnamed: string[] = [];
    const walk = (node: { id: string; on?: Record<string, Array<{ guard?: unknown }>>; states?: Record<string, unknown> }) => {
      for (const [event, transitions] of Object.entries(node.on ?? {})) {
        transitions.slice(0, -1).forEach((t, i) => t.guard === undefined && unnamed.push(`${node.id} ${event} #${i}`));
      }
      for (const child of Object.values(node.states ?? {})) walk(child as typeof node);
    };
    walk(body.definition);
    expect(unnamed).toEqual([]);
    // The definition's states are the machine's: a fresh actor starts in the first of them.
    expect(Object.keys(body.definition.states)).toContain(Object.keys(createActor(paymentMachine, { input: { paymentId: 'p', amount: 1, retry: {} as never } }).getSnapshot().value as object)[0]);
  });

  it('serves the settlement machine too', async () => {
    const { body } = await h.request('GET', '/v1/machines/settlement');
    expect(body).toMatchObject({ id: 'settlement', version: 1 });
    expect(Object.keys(body.definition.states)).toEqual(['requested', 'processing', 'failed', 'completed']);
  });
});
