import { afterEach, describe, expect, it, vi } from 'vitest';
import { createCallSlots, type SlotOutcome } from '../../src/pg/call-slots.ts';

const LONG = 60_000;

/** Lets every settled promise's reactions run. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

afterEach(() => {
  vi.useRealTimers();
});

describe('call slots', () => {
  it('admits up to the limit at once and queues the rest', async () => {
    const slots = createCallSlots(2);
    const admitted: number[] = [];
    for (const n of [1, 2, 3, 4]) void slots.acquire(LONG).then(() => admitted.push(n));
    await settle();
    expect(admitted).toEqual([1, 2]);
    expect(slots.queued).toBe(2);
  });

  it('hands a released slot to the longest waiting caller', async () => {
    const slots = createCallSlots(1);
    const admitted: number[] = [];
    for (const n of [1, 2, 3]) void slots.acquire(LONG).then(() => admitted.push(n));
    await settle();
    slots.release();
    await settle();
    expect(admitted).toEqual([1, 2]);
    slots.release();
    await settle();
    expect(admitted).toEqual([1, 2, 3]);
  });

  it('frees the slot when nobody waits, so the next caller gets it at once', async () => {
    const slots = createCallSlots(1);
    await slots.acquire(LONG);
    slots.release();
    expect(await slots.acquire(LONG)).toBe('acquired');
  });

  it('keeps first-come order through a queue of thousands', async () => {
    const slots = createCallSlots(1);
    const admitted: number[] = [];
    const callers = Array.from({ length: 3000 }, (_, n) => slots.acquire(LONG).then(() => admitted.push(n)));
    await settle();
    for (let n = 1; n < 3000; n++) {
      slots.release();
      await Promise.resolve();
    }
    await Promise.all(callers);
    expect(admitted).toEqual(Array.from({ length: 3000 }, (_, n) => n));
  });

  it('gives up on a wait longer than its limit, and the slot goes to the next waiter', async () => {
    vi.useFakeTimers();
    const slots = createCallSlots(1);
    await slots.acquire(LONG);
    const impatient = slots.acquire(100);
    const patient = slots.acquire(LONG);
    await vi.advanceTimersByTimeAsync(101);
    expect(await impatient).toBe('expired');
    expect(slots.queued).toBe(1);
    slots.release();
    expect(await patient).toBe('acquired');
  });

  it('drops a waiter whose caller aborted, before or while it waits', async () => {
    const slots = createCallSlots(1);
    await slots.acquire(LONG);
    const gone = new AbortController();
    gone.abort();
    expect(await slots.acquire(LONG, gone.signal)).toBe('aborted');

    const leaving = new AbortController();
    const outcomes: SlotOutcome[] = [];
    void slots.acquire(LONG, leaving.signal).then((o) => outcomes.push(o));
    const staying = slots.acquire(LONG);
    leaving.abort();
    await settle();
    expect(outcomes).toEqual(['aborted']);
    slots.release();
    expect(await staying).toBe('acquired');
  });

  it('refuses a release without an acquire', () => {
    expect(() => createCallSlots(1).release()).toThrow(/released more often/);
  });
});
