import { connect } from 'node:net';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { ADMIN_TOKEN, purchase, startHarness, type Harness, type Reply } from '../support/harness.ts';
import { refuseWrites } from '../support/refuse-writes.ts';
import { captureLogs } from '../support/log-capture.ts';
import { expectProblem, misspellingsOf } from '../support/problems.ts';

const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
/** A cron that fires only at midnight on 29 February: only a request runs a reconcile pass. */
const LEAP_DAY_CRON = '0 0 0 29 2 *';

describe('admin routes', () => {
  let h: Harness;
  let deadLetterId: string;
  let paymentId: string;

  /** The reconcile pass takes and releases this lock, so a pass leaves its owner on it. */
  const reconcileLock = () => h.service.db.read.get(`select owner, expires_at as "expiresAt" from locks where name = 'reconciler'`);

  /** A completed payment whose refund the card issuer refuses: it ends requires_attention, with an open failed event. */
  async function deadLetter(key: string): Promise<{ paymentId: string; failedEventId: string }> {
    const paid = await h.pay(key, purchase('book-1'), '?wait=10');
    await h.request('POST', `/v1/payments/${paid.body.id}/cancel`, { body: { reason: 'x' }, headers: { 'idempotency-key': `c-${key}` } });
    expect(await h.settled(paid.body.id)).toMatchObject({ status: 'requires_attention' });
    const open = await h.request('GET', '/v1/admin/failed-events?status=open', { headers: admin });
    const failed = open.body.data.find((e: { paymentId: string }) => e.paymentId === paid.body.id);
    return { paymentId: paid.body.id, failedEventId: failed.id };
  }

  beforeAll(async () => {
    h = await startHarness({ RECONCILE_CRON: LEAP_DAY_CRON });
    await h.createProduct({ id: 'book-1', price: 15_000, stock: 5 });
    // Every refund is refused: each cancelled payment becomes a dead letter.
    h.mock.setChaos({ cancelRefusalRate: 1 });
    ({ paymentId, failedEventId: deadLetterId } = await deadLetter('k-buy'));
  });
  afterAll(async () => {
    await h.close();
  });

  it('lets only the exact path reach an admin handler, and only with the token', async () => {
    await h.service.db.commit.run((tx) => tx.run(`update locks set owner = 'sentinel', expires_at = 1 where name = 'reconciler'`));
    const routes: Array<[string, string]> = [
      ['GET', '/v1/admin/failed-events'],
      ['POST', `/v1/admin/failed-events/${deadLetterId}/retry`],
      ['POST', '/v1/admin/failed-events/retry-all'],
      ['POST', `/v1/admin/failed-events/${deadLetterId}/ignore`],
      ['POST', '/v1/admin/reconcile'],
      ['POST', '/v1/products'],
    ];
    const badTokens: Array<Record<string, string>> = [{}, { authorization: 'Bearer wrong-token-wrong-token' }, { authorization: ADMIN_TOKEN }];
    const sneakyProducts: string[] = [];
    /** Every POST carries a product of its own id, so any product created by mistake shows. */
    const send = (method: string, path: string, headers: Record<string, string>) => {
      const id = `sneaky-${sneakyProducts.length}`;
      sneakyProducts.push(id);
      const body = method === 'POST' ? { reason: 'x', id, name: 'x', price: 1, stock: 1, partnerId: 'p' } : undefined;
      return h.request(method, path, { body, headers });
    };

    for (const [method, path] of routes) {
      for (const headers of badTokens) expectProblem(await send(method, path, headers), 401, 'unauthorized');
      for (const misspelt of misspellingsOf(path)) {
        // Not our path, whatever the token: nothing there.
        for (const headers of [...badTokens, admin]) {
          expectProblem(await send(method, misspelt, headers), 404, 'not_found', `${method} ${misspelt}`);
        }
      }
    }

    expect(await reconcileLock()).toEqual({ owner: 'sentinel', expiresAt: 1 });
    const open = await h.request('GET', '/v1/admin/failed-events?status=open', { headers: admin });
    expect(open.body.data).toMatchObject([{ id: deadLetterId, status: 'open', resolvedBy: null }]);
    expect((await h.request('GET', `/v1/payments/${paymentId}`)).body.status).toBe('requires_attention');
    for (const id of sneakyProducts) expectProblem(await h.request('GET', `/v1/products/${id}`), 404, 'not_found');
  });

  it('serves the real admin paths with the token', async () => {
    const listed = await h.request('GET', '/v1/admin/failed-events', { headers: admin });
    expect(listed.status).toBe(200);
    expect(listed.body.data).toMatchObject([{ id: deadLetterId }]);

    const reconciled = await h.request('POST', '/v1/admin/reconcile', { headers: admin });
    expect(reconciled.status).toBe(200);
    expect(reconciled.body).toEqual({ scanned: expect.any(Number), resumed: expect.any(Number) });
    expect(await reconcileLock()).toEqual({ owner: h.config.INSTANCE_ID, expiresAt: 0 });

    const created = await h.request('POST', '/v1/products', { body: { id: 'real-1', name: 'x', price: 1, stock: 1, partnerId: 'p' }, headers: admin });
    expect(created.status).toBe(201);

    const ignored = await h.request('POST', `/v1/admin/failed-events/${deadLetterId}/ignore`, { body: { reason: 'paid back by hand' }, headers: admin });
    expect(ignored.status).toBe(200);
    expect(ignored.body).toMatchObject({ id: deadLetterId, status: 'ignored' });
    // The handlers are reached: a closed dead letter cannot be retried, and none is left open.
    expectProblem(await h.request('POST', `/v1/admin/failed-events/${deadLetterId}/retry`, { headers: admin }), 409, 'invalid_state');
    const all = await h.request('POST', '/v1/admin/failed-events/retry-all', { headers: admin });
    expect(all.body).toEqual({ retried: 0, data: [], failed: [] });
  });

  it('keeps only a safe X-Admin-Actor in the audit trail', async () => {
    for (const [key, given, recorded] of [
      ['k-markup', '<script>alert(1)</script>', 'admin'],
      ['k-too-long', 'a'.repeat(101), 'admin'],
      ['k-plain', 'kim+ops@example.com', 'kim+ops@example.com'],
    ] as const) {
      const { paymentId: id, failedEventId } = await deadLetter(key);
      const ignored = await h.request('POST', `/v1/admin/failed-events/${failedEventId}/ignore`, {
        body: { reason: 'checked' },
        headers: { ...admin, 'x-admin-actor': given },
      });
      expect(ignored.body).toMatchObject({ status: 'ignored', resolvedBy: recorded });
      const log = (await h.request('GET', `/v1/payments/${id}/events`)).body.data;
      expect(log.find((e: { type: string }) => e.type === 'admin.ignore').detail.actor).toBe(recorded);
    }
  });
});

describe('exact public paths', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
    await h.createProduct({ id: 'seat-1', price: 1_000, stock: 10 });
  });
  afterAll(() => h.close());

  it('serves the paths as written and nothing near them', async () => {
    expect((await h.pay('k-exact', purchase('seat-1'))).status).toBe(202);
    expect((await h.request('GET', '/v1/payments')).status).toBe(200);
    expect((await h.request('GET', '/v1/products/seat-1')).status).toBe(200);
    expect((await h.request('GET', '/healthz')).status).toBe(200);
    for (const path of ['/v1/payments/', '/V1/payments', '/v1/Payments', '/v1/products/seat-1/', '/HEALTHZ', '/healthz/', '/readyz/']) {
      expectProblem(await h.request('GET', path), 404, 'not_found');
    }
    expectProblem(await h.pay('k-slash', purchase('seat-1'), '/'), 404, 'not_found');
  });
});

describe('bounded metadata', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
    await h.createProduct({ id: 'seat-1', price: 1_000, stock: 100 });
  });
  afterAll(() => h.close());

  /** `levels` objects, one inside the other, around a string. */
  const nested = (levels: number): unknown => {
    let value: unknown = 'x';
    for (let level = 0; level < levels; level++) value = { a: value };
    return value;
  };

  const paymentCount = async () => (await h.request('GET', '/v1/payments?limit=100')).body.data.length as number;

  async function expectMetadataRefused(key: string, metadata: unknown) {
    const before = await paymentCount();
    const reply = await h.pay(key, { ...purchase('seat-1'), metadata });
    expectProblem(reply, 400, 'validation_failed');
    expect(reply.body.errors.map((e: { path: string }) => e.path), key).toEqual(['metadata']);
    expect(await paymentCount()).toBe(before);
  }

  it('refuses metadata nested 5,000 levels deep (a 10 KB body) with a 400, not a 500', async () => {
    // Written by hand: the test's own JSON.stringify would overflow on such a value.
    const deepArrays = `${'['.repeat(5_000)}"x"${']'.repeat(5_000)}`;
    const deepObjects = `${'{"a":'.repeat(5_000)}"x"${'}'.repeat(5_000)}`;
    for (const [key, deep] of [['k-deep-arrays', deepArrays], ['k-deep-objects', deepObjects]] as const) {
      const raw = `{"customerId":"c-1","items":[{"productId":"seat-1","quantity":1}],"billingKey":"bk_test_ok","metadata":{"deep":${deep}}}`;
      const reply = await h.request('POST', '/v1/payments', { raw, headers: { 'content-type': 'application/json', 'idempotency-key': key } });
      expectProblem(reply, 400, 'validation_failed');
      expect(reply.body.errors).toMatchObject([{ path: 'metadata' }]);
    }
    expect(await paymentCount()).toBe(0);
  });

  it('accepts metadata within the bounds', async () => {
    const wide = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`k${i}`, { [`n${i}`]: 'v'.repeat(500) }]));
    for (const [key, metadata] of [
      ['k-depth-5', { top: nested(4) }],
      ['k-keys-50', { ...Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`k${i}`, i])), inner: Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`i${i}`, [i]])) }],
      ['k-long', { ['k'.repeat(40)]: 'v'.repeat(500) }],
      ['k-wide', wide],
    ] as const) {
      const reply = await h.pay(key, { ...purchase('seat-1'), metadata });
      expect(reply.status, key).toBe(202);
      expect(reply.body.metadata).toEqual(metadata);
    }
  });

  it('refuses metadata beyond any bound', async () => {
    await expectMetadataRefused('k-depth-6', { top: nested(5) });
    await expectMetadataRefused('k-array-depth-6', { top: [[[[['x']]]]] });
    await expectMetadataRefused('k-keys-51', { ...Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`k${i}`, i])), inner: Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`i${i}`, i])) });
    await expectMetadataRefused('k-string-501', { note: 'v'.repeat(501) });
    await expectMetadataRefused('k-array-string-501', { notes: ['ok', 'v'.repeat(501)] });
    await expectMetadataRefused('k-key-41', { ['k'.repeat(41)]: 1 });
    await expectMetadataRefused('k-nested-key-41', { a: { ['k'.repeat(41)]: 1 } });
    await expectMetadataRefused('k-9-kib', Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, 'v'.repeat(500)])));
    await expectMetadataRefused('k-9-kib-numbers', { n: Array.from({ length: 2_000 }, (_, i) => i) });
    await expectMetadataRefused('k-array', ['a']);
    await expectMetadataRefused('k-string', 'a');
  });
});

describe('content encodings', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
    await h.createProduct({ id: 'seat-1', price: 1_000, stock: 100 });
  });
  afterAll(() => h.close());

  async function post(key: string, encoding: string, body: Buffer): Promise<Reply> {
    const response = await fetch(`${h.url}/v1/payments`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-encoding': encoding, 'idempotency-key': key },
      body: new Uint8Array(body),
    });
    return { status: response.status, headers: response.headers, body: await response.json() };
  }

  const json = Buffer.from(JSON.stringify(purchase('seat-1')));

  it('answers 400 invalid_encoding for a body that does not decode as its Content-Encoding says', async () => {
    for (const [key, encoding, body] of [
      ['k-gzip', 'gzip', json],
      ['k-br', 'br', json],
      ['k-deflate', 'deflate', json],
      ['k-gzip-cut', 'gzip', gzipSync(json).subarray(0, 12)],
      ['k-br-cut', 'br', brotliCompressSync(json).subarray(0, 5)],
      ['k-gzip-empty', 'gzip', Buffer.alloc(0)],
    ] as const) {
      const reply = await post(key, encoding, body);
      expectProblem(reply, 400, 'invalid_encoding');
      expect((await h.request('GET', `/v1/payments?customerId=c-1`)).body.data).toEqual([]);
    }
  });

  it('answers 415 unsupported_encoding for an encoding it does not know', async () => {
    expectProblem(await post('k-zstd', 'zstd', json), 415, 'unsupported_encoding');
    expectProblem(await post('k-foo', 'foo', json), 415, 'unsupported_encoding');
  });

  it('accepts a correctly compressed JSON body', async () => {
    for (const [key, encoding, body] of [
      ['k-gzip-ok', 'gzip', gzipSync(json)],
      ['k-br-ok', 'br', brotliCompressSync(json)],
      ['k-deflate-ok', 'deflate', deflateSync(json)],
    ] as const) {
      const reply = await post(key, encoding, body);
      expect(reply.status, encoding).toBe(202);
      expect(reply.body).toMatchObject({ customerId: 'c-1', items: [{ productId: 'seat-1', quantity: 1 }] });
    }
    // The 64 KiB limit holds for the decoded body: a small gzip cannot inflate past it.
    const bomb = gzipSync(Buffer.from(JSON.stringify({ ...purchase('seat-1'), metadata: { blob: 'x'.repeat(1024 * 1024) } })));
    expect(bomb.length).toBeLessThan(4 * 1024);
    expectProblem(await post('k-gzip-bomb', 'gzip', bomb), 413, 'payload_too_large');
    // The encoding is the transport's: a replay in plain JSON is the same request.
    const replay = await h.pay('k-gzip-ok', purchase('seat-1'));
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
  });
});

describe('prices', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h.close());

  it('refuses a product priced 0', async () => {
    const reply = await h.request('POST', '/v1/products', { body: { id: 'free', name: 'x', price: 0, stock: 1, partnerId: 'p' }, headers: admin });
    expectProblem(reply, 400, 'validation_failed');
    expect(reply.body.errors.map((e: { path: string }) => e.path)).toEqual(['price']);
    expectProblem(await h.request('GET', '/v1/products/free'), 404, 'not_found');
  });
});

/** Promises a body of 1,000 bytes, sends a few, then goes away. */
async function abortMidBody(url: string, path: string): Promise<void> {
  const { hostname, port } = new URL(url);
  await new Promise<void>((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => {
      socket.write(
        `POST ${path} HTTP/1.1\r\nHost: ${hostname}\r\nContent-Type: application/json\r\nIdempotency-Key: k-abort\r\nContent-Length: 1000\r\n\r\n{"customerId":`,
      );
      setTimeout(() => {
        socket.destroy();
        resolve();
      }, 100);
    });
    socket.once('error', reject);
  });
}

async function eventually<T>(find: () => T | undefined, timeoutMs = 3_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = find();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error('not seen in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Sends `request` as raw bytes and reads the whole answer (the server closes the connection). */
async function rawExchange(url: string, request: string): Promise<{ head: string; body: string }> {
  const { hostname, port } = new URL(url);
  const answer = await new Promise<string>((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.end(request));
    let text = '';
    socket.on('data', (chunk) => (text += chunk.toString()));
    socket.on('end', () => resolve(text));
    socket.on('error', reject);
  });
  const [head = '', body = ''] = answer.split('\r\n\r\n');
  return { head, body };
}

describe("requests Node's HTTP parser refuses", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ RECONCILE_CRON: LEAP_DAY_CRON });
  });
  afterAll(() => h.close());

  it('answers a request that is not HTTP with a 400 problem document, not a bare status line', async () => {
    const { head, body } = await rawExchange(h.url, 'GET /v1/pay ments?x HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(head).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(head).toContain('Content-Type: application/problem+json');
    expect(head).toMatch(/X-Request-Id: [\w-]+/);
    expect(JSON.parse(body)).toMatchObject({ status: 400, code: 'bad_request', errors: [] });
  });

  it('answers headers over 16 KiB with 431, as a problem document', async () => {
    const { head, body } = await rawExchange(h.url, `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    expect(head).toMatch(/^HTTP\/1\.1 431 Request Header Fields Too Large\r\n/);
    expect(JSON.parse(body)).toMatchObject({ status: 431, code: 'request_too_large' });
    // And the service carries on.
    expect((await h.request('GET', '/healthz')).status).toBe(200);
  });
});

describe('error-level logs', () => {
  const { logger, records } = captureLogs();
  let service: Harness;
  beforeAll(async () => {
    service = await startHarness({ RECONCILE_CRON: LEAP_DAY_CRON }, {}, { logger });
  });
  afterAll(() => service.close());
  afterEach(() => {
    vi.restoreAllMocks();
  });

  const errorLines = (from = 0) => records.slice(from).filter((line) => line.level >= 50);

  it('logs a client that goes away mid-body at debug, without a stack, and prints nothing', async () => {
    const printed = vi.spyOn(console, 'error');
    for (const path of ['/v1/payments', '/v1/pg/webhooks']) {
      const before = records.length;
      await abortMidBody(service.url, path);
      const aborted = await eventually(() => records.slice(before).find((line) => line.reason === 'client_aborted'));
      expect(aborted.level).toBe(20);
      expect(aborted.err).toBeUndefined();
      // Give Koa's own error event (the socket's parse error) time to arrive as well.
      await new Promise((r) => setTimeout(r, 200));
      // Not a 500: the request is logged with nginx's "client closed request".
      expect(records.slice(before).find((line) => line.msg === 'request')).toMatchObject({ level: 20, status: 499 });
    }
    expect(errorLines()).toEqual([]);
    expect(printed).not.toHaveBeenCalled();
  });

  it('still logs a fault of ours at error level', async () => {
    const before = records.length;
    // Every new product refused: the write fails as a broken table would.
    await refuseWrites(service.service.db, { table: 'products', event: 'INSERT', message: 'products is offline' });
    const response = await fetch(`${service.url}/v1/products`, {
      method: 'POST',
      headers: { ...admin, 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'p-1', name: 'x', price: 1, stock: 1, partnerId: 'p' }),
    });
    expect(response.status).toBe(500);
    expect(await response.json()).toMatchObject({ code: 'internal_error' });
    expect(errorLines(before)).toMatchObject([{ msg: 'unhandled error', err: { stack: expect.stringContaining('products is offline') } }]);
  });
});
