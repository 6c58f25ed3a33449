import type { RouterMiddleware } from '@koa/router';
import type { MockPgDeps } from '../app.ts';
import { cursorListRequest, isWithin, pageListRequest, parseRequestBody, timeRange } from '../list-request.ts';
import { compareCreation, compareIds, creationPosition, decodeCursor, encodeCursor } from '../payment-cursor.ts';
import type { PaymentRecord } from '../payment-store.ts';
import { toPaymentView } from '../payment-view.ts';
import { assertOwnStore } from '../request-input.ts';

/**
 * `GET /payments-by-cursor`: every payment created in [from, until), oldest first; a
 * page starts just after the payment its cursor names. Another store's id → 403, as
 * for every other route of this PG.
 */
export function listPaymentsByCursor({ store, storeId }: MockPgDeps): RouterMiddleware {
  return (ctx) => {
    const request = parseRequestBody(cursorListRequest, ctx.query);
    assertOwnStore(request.storeId, storeId);
    const range = timeRange(request.from, request.until, Date.now());
    const after = request.cursor === undefined ? undefined : decodeCursor(request.cursor);
    const page = store
      .all()
      .map((record) => ({ record, position: creationPosition(record) }))
      .filter(({ position }) => isWithin(position.requestedAt, range) && (!after || compareCreation(position, after) > 0))
      .sort((a, b) => compareCreation(a.position, b.position))
      .slice(0, request.size);
    ctx.body = {
      items: page.map(({ record }) => ({ payment: toPaymentView(record, storeId), cursor: encodeCursor(record) })),
    };
  };
}

const creationTime = (record: PaymentRecord) => Date.parse(record.requestedAt);
const statusChangeTime = (record: PaymentRecord) => Date.parse(record.statusChangedAt);
const FILTER_TIMES = { CREATED_AT: creationTime, STATUS_CHANGED_AT: statusChangeTime };
const SORT_TIMES = { REQUESTED_AT: creationTime, STATUS_CHANGED_AT: statusChangeTime };

/**
 * `GET /payments`: one page of the payments whose `timestampType` instant lies in
 * [from, until). Without `sortBy` they are sorted by that same instant; equal instants
 * by id, so pages never overlap.
 */
export function listPayments({ store, storeId }: MockPgDeps): RouterMiddleware {
  return (ctx) => {
    const { page, filter } = parseRequestBody(pageListRequest, ctx.query);
    assertOwnStore(filter.storeId, storeId);
    const range = timeRange(filter.from, filter.until, Date.now());
    const filterTime = FILTER_TIMES[filter.timestampType];
    const sortTime = filter.sortBy ? SORT_TIMES[filter.sortBy] : filterTime;
    const direction = filter.sortOrder === 'ASC' ? 1 : -1;
    const items = store
      .all()
      .filter((record) => isWithin(filterTime(record), range) && (!filter.status || filter.status.includes(record.status)))
      .sort((a, b) => direction * (sortTime(a) - sortTime(b) || compareIds(a.id, b.id)))
      .slice(page.number * page.size, (page.number + 1) * page.size);
    ctx.body = {
      items: items.map((record) => toPaymentView(record, storeId)),
      // The SDK's PageInfo: totalCount is "the number of objects actually returned".
      page: { number: page.number, size: page.size, totalCount: items.length },
    };
  };
}
