import { describe, expect, it } from 'vitest';
import { createCallSlots } from '../../src/pg/call-slots.ts';

/** Lets every settled promise's reactions run. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('call slots', () => {
  it('admits up to the limit at once and queues the rest', async () => {
    const slots = createCallSlots(2);
    const admitted: number[] = [];
    for (const n of [1, 2, 3, 4]) void slots.acquire().then(() => admitted.push(n));
    await settle();
    expect(admitted).toEqual([1, 2]);
  });

  it('hands a released slot to the longest waiting caller', async () => {
    const slots = createCallSlots(1);
    const admitted: number[] = [];
    for (const n of [1, 2, 3]) void slots.acquire().then(() => admitted.push(n));
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
    await slots.acquire();
    slots.release();
    let admitted = false;
    void slots.acquire().then(() => (admitted = true));
    await settle();
    expect(admitted).toBe(true);
  });

  it('keeps first-come order through a queue of thousands', async () => {
    const slots = createCallSlots(1);
    const admitted: number[] = [];
    const callers = Array.from({ length: 3000 }, (_, n) => slots.acquire().then(() => admitted.push(n)));
    await settle();
    for (let n = 1; n < 3000; n++) {
      slots.release();
      await Promise.resolve();
    }
    await Promise.all(callers);
    expect(admitted).toEqual(Array.from({ length: 3000 }, (_, n) => n));
  });
});
