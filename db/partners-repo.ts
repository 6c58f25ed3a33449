import { partners } from './schema.ts';
import { selectList } from './select-list.ts';
import type { Sql } from './sql.ts';

export type Partner = typeof partners.$inferSelect;

const PARTNER_COLUMNS = selectList(partners);

const INSERT_PARTNER = `insert into partners (id, name, fee_rate_bps, created_at, updated_at)
  values (@id, @name, @feeRateBps, @createdAt, @updatedAt) on conflict do nothing`;

/** Returns false when the id is taken. */
export async function insertPartner(q: Sql, partner: Partner): Promise<boolean> {
  const changed = await q.run(INSERT_PARTNER, {
    id: partner.id,
    name: partner.name,
    feeRateBps: partner.feeRateBps,
    createdAt: partner.createdAt,
    updatedAt: partner.updatedAt,
  });
  return changed === 1;
}

export function findPartner(q: Sql, id: string): Promise<Partner | undefined> {
  return q.get<Partner>(`select ${PARTNER_COLUMNS} from partners where id = @id`, { id });
}

/** A change left out (null) keeps the column as it is: both columns are not null. */
const UPDATE_PARTNER = `update partners set name = coalesce(@name, name), fee_rate_bps = coalesce(@feeRateBps, fee_rate_bps),
  updated_at = @now where id = @id returning ${PARTNER_COLUMNS}`;

/** Returns the partner as changed, or undefined when there is none. */
export function updatePartner(
  q: Sql,
  id: string,
  changes: { name?: string | undefined; feeRateBps?: number | undefined },
  now: number,
): Promise<Partner | undefined> {
  return q.get<Partner>(UPDATE_PARTNER, { id, name: changes.name ?? null, feeRateBps: changes.feeRateBps ?? null, now });
}

export function listPartners(q: Sql): Promise<Partner[]> {
  return q.all<Partner>(`select ${PARTNER_COLUMNS} from partners order by id`);
}
