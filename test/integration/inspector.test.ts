import { get } from 'node:http';
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { eventually } from '../support/alert-receiver.ts';
import { purchase, startHarness, type Harness } from '../support/harness.ts';

// INSPECT=1: payment actors are shown to Stately's inspector through a relay on
// 127.0.0.1; a WebSocket client of the relay's own page (as the bridge page is) receives them.

interface Listener {
  messages: Array<Record<string, unknown>>;
  raw: string[];
  socket: WebSocket;
}

/** A browser-side client of the relay, as its page's script connects: from the page's origin. */
async function listen(pageUrl: string, options: { origin?: string; host?: string } = {}): Promise<Listener> {
  const socket = new WebSocket(pageUrl.replace('http:', 'ws:'), {
    origin: options.origin ?? pageUrl,
    ...(options.host ? { headers: { host: options.host } } : {}),
  });
  const raw: string[] = [];
  const messages: Array<Record<string, unknown>> = [];
  socket.on('message', (data) => {
    raw.push(data.toString());
    messages.push(JSON.parse(data.toString()) as Record<string, unknown>);
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  return { messages, raw, socket };
}

/** The status of a GET with this Host header (fetch would not send one of ours). */
function statusOf(url: string, host: string): Promise<number | undefined> {
  return new Promise((resolve, reject) => {
    get(url, { headers: { host } }, (res) => {
      res.resume();
      resolve(res.statusCode);
    }).on('error', reject);
  });
}

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const inspected = (env: Record<string, string> = {}) => startHarness({ INSPECT: '1', INSPECT_PORT: '0', ...env });

describe('the Stately inspector', () => {
  it("relays a payment's actor, its events and its snapshots to its page's client", async () => {
    h = await inspected();
    await h.createProduct({ id: 'book-1', price: 15_000, stock: 5 });
    const pageUrl = h.service.inspectorUrl!;
    const browser = await listen(pageUrl);
    try {
      const { body } = await h.pay('k-inspect', purchase('book-1'), '?wait=10');
      expect(body.status).toBe('completed');
      const about = () => browser.raw.filter((m) => m.includes(body.id));
      await eventually(() => about().some((m) => m.includes('"completed"')));
      const types = new Set(browser.messages.map((m) => m.type));
      expect(types).toEqual(new Set(['@xstate.actor', '@xstate.event', '@xstate.snapshot']));
      // The payment machine itself, as the inspector draws it.
      const registered = browser.messages.find((m) => m.type === '@xstate.actor' && m.name === 'payment');
      expect(String(registered?.definition)).toContain('"id":"payment"');
      // Its steps are actors of the same system.
      expect(browser.messages.some((m) => m.type === '@xstate.event' && JSON.stringify(m.event).includes('xstate.done.actor.chargePayment'))).toBe(true);
      // Never a billing key: the machine's context holds none.
      expect(browser.raw.some((m) => m.includes('bk_test_ok'))).toBe(false);
      // The page a developer opens is served by the same relay, pointing at it.
      const page = await fetch(pageUrl);
      expect(await page.text()).toContain(`"${pageUrl.replace('http:', 'ws:')}"`);
      // A browser that comes late is sent what happened first.
      const late = await listen(pageUrl);
      await eventually(() => late.raw.some((m) => m.includes(body.id)));
      late.socket.close();
    } finally {
      browser.socket.close();
    }
  });

  it('lets no other site read it or write to it, and no browser publish', async () => {
    h = await inspected();
    await h.createProduct({ id: 'book-1', price: 15_000, stock: 5 });
    const pageUrl = h.service.inspectorUrl!;
    const { port } = new URL(pageUrl);
    // Another site open in the developer's browser; a DNS-rebound name.
    await expect(listen(pageUrl, { origin: 'https://evil.example' })).rejects.toThrow();
    await expect(listen(pageUrl, { host: `rebound.example:${port}`, origin: `http://rebound.example:${port}` })).rejects.toThrow();
    expect(await statusOf(pageUrl, `rebound.example:${port}`)).toBe(421);
    expect((await fetch(`${pageUrl}/publish/guess`)).status).toBe(404);
    // A browser's messages go nowhere: another browser never sees them.
    const writer = await listen(pageUrl);
    const reader = await listen(pageUrl);
    writer.socket.send(JSON.stringify({ type: '@xstate.snapshot', forged: true }));
    const { body } = await h.pay('k-after', purchase('book-1'), '?wait=10');
    await eventually(() => reader.raw.some((m) => m.includes(body.id) && m.includes('"completed"')));
    expect(reader.raw.some((m) => m.includes('forged'))).toBe(false);
    writer.socket.close();
    reader.socket.close();
  });

  it('survives a bad frame and an oversized message: the connection ends, never the service', async () => {
    h = await inspected();
    await h.createProduct({ id: 'book-1', price: 15_000, stock: 5 });
    const pageUrl = h.service.inspectorUrl!;
    const { port } = new URL(pageUrl);
    // An unmasked frame from a client, after a valid handshake from the page's origin.
    const raw = connect(Number(port), '127.0.0.1');
    await new Promise<void>((resolve) => raw.once('connect', resolve));
    raw.write(
      `GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nOrigin: ${pageUrl}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
    );
    await new Promise((resolve) => raw.once('data', resolve));
    raw.write(Buffer.from('81026869', 'hex'));
    await new Promise((resolve) => raw.once('close', resolve));
    // One byte over the limit from a well-behaved client.
    const big = await listen(pageUrl);
    const closed = new Promise((resolve) => big.socket.once('close', resolve));
    big.socket.send('x'.repeat(256 * 1024 + 1));
    await closed;
    // Still serving, and still relaying.
    expect((await h.request('GET', '/healthz')).status).toBe(200);
    const browser = await listen(pageUrl);
    const { body } = await h.pay('k-alive', purchase('book-1'), '?wait=10');
    await eventually(() => browser.raw.some((m) => m.includes(body.id)));
    browser.socket.close();
  });

  it('shows only the payments it is told to watch', async () => {
    h = await inspected({ INSPECT_PAYMENTS: 'pay_nobody' });
    await h.createProduct({ id: 'book-1', price: 15_000, stock: 5 });
    const first = (await h.pay('k-first', purchase('book-1'), '?wait=10')).body;
    // Watch the first payment only, then move both: only the first is shown.
    await h.restart({ INSPECT_PAYMENTS: first.id });
    const browser = await listen(h.service.inspectorUrl!);
    try {
      const second = (await h.pay('k-second', purchase('book-1'), '?wait=10')).body;
      await h.request('POST', `/v1/payments/${first.id}/cancel?wait=10`, { body: { reason: 'watched' }, headers: { 'idempotency-key': 'c-first' } });
      await eventually(() => browser.raw.some((m) => m.includes(first.id) && m.includes('"cancelled"')));
      expect(browser.raw.filter((m) => m.includes(second.id))).toEqual([]);
    } finally {
      browser.socket.close();
    }
  });

  it('opens no relay unless asked', async () => {
    h = await startHarness({ INSPECT_PORT: '0' });
    expect(h.service.inspectorUrl).toBeUndefined();
  });
});
