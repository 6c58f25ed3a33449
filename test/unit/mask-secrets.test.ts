import { describe, expect, it } from 'vitest';
import { maskBillingKeys, maskSecret } from '../../src/logger.ts';

describe('masking secrets', () => {
  it('keeps the last four characters of a secret', () => {
    expect(maskSecret('bk_live_0123456789')).toBe('****6789');
    expect(maskSecret('abc')).toBe('****');
  });

  it('masks every billing key in a raw message and leaves the rest of it as it was', () => {
    const raw = '{"id":"order-1","data":{"billingKey":"bk_live_secret_9876","items":[]},"again":{"billingKey" : "bk_x\\"quoted\\"_1234"}}';
    expect(maskBillingKeys(raw)).toBe('{"id":"order-1","data":{"billingKey":"****9876","items":[]},"again":{"billingKey" : "****1234"}}');
    expect(maskBillingKeys('not json at all')).toBe('not json at all');
  });
});
