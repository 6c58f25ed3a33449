import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { purchase, startHarness, type Harness } from '../support/harness.ts';

// INSPECT=1: payment actors are shown to Stately's inspector through a relay on
// 127.0.0.1; a WebSocket client of the relay (as the bridge page is) receives them.

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A browser-side client of the relay, collecting what it relays. */
async function listen(port: number): Promise<{ messages: Array<Record<string, unknown>>; raw: string[]; close(): void }> {
  const socket = new WebSocket(`ws://127.0.0.1:${port}`);
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
  return { messages, raw, close: () => socket.close() };
}

async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met before the deadline');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('the Stately inspector', () => {
  it("relays a payment's actor, its events and its snapshots to a client on 127.0.0.1", async () => {
    const port = await freePort();
    h = await startHarness({ INSPECT: '1', INSPECT_PORT: String(port) });
    await h.createProduct({ id: 'book-1', price: 15_000, stock: 5 });
    const browser = await listen(port);
    try {
      const { body } = await h.pay('k-inspect', purchase('book-1'), '?wait=10');
      expect(body.status).toBe('completed');
      const about = () => browser.raw.filter((m) => m.includes(body.id));
      await until(() => about().some((m) => m.includes('"completed"')));
      const types = new Set(browser.messages.map((m) => m.type));
      expect(types).toEqual(new Set(['@xstate.actor', '@xstate.event', '@xstate.snapshot']));
      // The payment machine itself, as the inspector draws it.
      const registered = browser.messages.find((m) => m.type === '@xstate.actor' && m.name === 'payment');
      expect(String(registered?.definition)).toContain('"id":"payment"');
      // Its steps are actors of the same system.
      expect(browser.messages.some((m) => m.type === '@xstate.event' && JSON.stringify(m.event).includes('xstate.done.actor.chargePayment'))).toBe(true);
      // Never a billing key: the machine's context holds none.
      expect(browser.raw.some((m) => m.includes('bk_test_ok'))).toBe(false);
      // The page a developer opens is served by the same relay.
      const page = await fetch(`http://127.0.0.1:${port}/`);
      expect(await page.text()).toContain(`ws://127.0.0.1:${port}`);
    } finally {
      browser.close();
    }
  });

  it('shows only the payments it is told to watch', async () => {
    const port = await freePort();
    h = await startHarness({ INSPECT: '1', INSPECT_PORT: String(port), INSPECT_SAMPLE: '0' });
    await h.createProduct({ id: 'book-1', price: 15_000, stock: 5 });
    const browser = await listen(port);
    try {
      const { body } = await h.pay('k-unwatched', purchase('book-1'), '?wait=10');
      expect(body.status).toBe('completed');
      // Watched payments reach the client within this time (previous test); this one never does.
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(browser.raw.filter((m) => m.includes(body.id))).toEqual([]);
    } finally {
      browser.close();
    }
  });

  it('opens no relay unless asked', async () => {
    const port = await freePort();
    h = await startHarness({ INSPECT_PORT: String(port) });
    await expect(listen(port)).rejects.toThrow();
  });
});
