import { z } from 'zod';
import { PgApiError } from './pg-api-error.ts';
import type { PaymentRecord } from './payment-store.ts';
import { instant } from './request-input.ts';

/** Where a payment stands in creation order: its `requestedAt`, then its id. */
export interface CreationPosition {
  requestedAt: number;
  id: string;
}

export function creationPosition(record: PaymentRecord): CreationPosition {
  return { requestedAt: Date.parse(record.requestedAt), id: record.id };
}

/** By code unit, not by locale, so the order is the same on every machine. */
export function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function compareCreation(a: CreationPosition, b: CreationPosition): number {
  return a.requestedAt - b.requestedAt || compareIds(a.id, b.id);
}

/** Opaque to clients: base64url of the JSON `[requestedAt, id]` of its payment; the next page starts after that payment. */
export function encodeCursor(record: PaymentRecord): string {
  return Buffer.from(JSON.stringify([record.requestedAt, record.id])).toString('base64url');
}

const cursorContent = z.tuple([instant, z.string()]);

function parseJsonOrUndefined(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export function decodeCursor(cursor: string): CreationPosition {
  const parsed = cursorContent.safeParse(parseJsonOrUndefined(Buffer.from(cursor, 'base64url').toString('utf8')));
  if (!parsed.success) throw new PgApiError(400, 'INVALID_REQUEST', 'cursor is not one this PG gave out');
  const [requestedAt, id] = parsed.data;
  return { requestedAt, id };
}
