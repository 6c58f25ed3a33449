import { beforeEach, describe, expect, it } from 'vitest';
import type { Database } from '../../db/connection.ts';
import { IdempotencyKeyHeld, listTransitions } from '../../db/payments-repo.ts';
import { insertPaymentRow } from '../support/payment-rows.ts';
import { useTempDatabase } from '../support/temp-database.ts';

// New payments are inserted with the batch's others, in one statement: a payment whose
// idempotency key is taken fails its own job only, whether the key was taken before or
// by another payment of the same batch (two requests with one key raced).

const database = useTempDatabase('payment-insert');
let db: Database;

beforeEach(async () => {
  db = await database.connect();
});

const insert = (id: string, idempotencyKey: string) => db.commit.run((tx) => insertPaymentRow(tx, id, 'reserving', { idempotencyKey }));
const ids = async () => (await db.read.all<{ id: string }>('select id from payments order by id')).map((row) => row.id);

describe('insertPayment', () => {
  it('refuses the second of two payments with one key in one batch, and commits the first with its transition', async () => {
    const [first, second, other] = await Promise.allSettled([insert('pay_1', 'key-a'), insert('pay_2', 'key-a'), insert('pay_3', 'key-b')]);
    expect(first.status).toBe('fulfilled');
    expect(second.status === 'rejected' && second.reason).toBeInstanceOf(IdempotencyKeyHeld);
    expect(other.status).toBe('fulfilled');
    expect(await ids()).toEqual(['pay_1', 'pay_3']);
    expect((await listTransitions(db.read, 'pay_1')).map((t) => t.toState)).toEqual(['reserving']);
    expect(await listTransitions(db.read, 'pay_2')).toEqual([]);
  });

  it('refuses a key a committed payment holds', async () => {
    await insert('pay_1', 'key-a');
    await expect(insert('pay_2', 'key-a')).rejects.toBeInstanceOf(IdempotencyKeyHeld);
    expect(await ids()).toEqual(['pay_1']);
  });
});
