import { z } from 'zod';
import { SETTLEMENT_STATUSES } from '../../../machines/settlement.machine.ts';
import { timestamp } from './payment-resources.ts';

/** Response schemas of partners and their daily settlements. */

export const partnerResource = z
  .object({
    id: z.string(),
    name: z.string(),
    feeRateBps: z.int().min(0).max(10_000).meta({ description: 'the fee in basis points: 300 is 3 %' }),
    createdAt: timestamp,
    updatedAt: timestamp,
  })
  .meta({ id: 'Partner' });

const money = z.int().meta({ description: 'integer minor units' });

export const settlementResource = z
  .object({
    id: z.string().regex(/^stl_[0-9a-z]{9}[0-9a-f]{16}$/),
    partnerId: z.string(),
    date: z.iso.date().meta({ description: 'the business date in SETTLEMENT_TIME_ZONE' }),
    status: z.enum(SETTLEMENT_STATUSES),
    currency: z.string(),
    paymentCount: z.int().min(0),
    grossAmount: money,
    refundCount: z.int().min(0),
    refundAmount: money,
    feeAmount: money,
    netAmount: money.meta({ description: 'grossAmount − refundAmount − feeAmount; may be negative' }),
    discrepancies: z.array(
      z.object({
        paymentId: z.string(),
        kind: z.enum(['not_counted_here', 'not_paid_at_pg', 'amount_differs']),
        ours: money.nullable(),
        pg: money.nullable(),
      }),
    ),
    createdAt: timestamp,
    completedAt: timestamp.nullable().meta({ description: 'null while the date runs or after it failed' }),
  })
  .meta({ id: 'Settlement', description: "One partner's takings on one business date." });

export const settlementLine = z
  .object({
    paymentId: z.string(),
    kind: z.enum(['payment', 'refund']),
    amount: money,
    fee: money.meta({ description: '0 on a refund' }),
    at: timestamp,
  })
  .meta({ id: 'SettlementLine', description: 'One payment counted (with its fee) or one refund or void, `at` when the money moved.' });

export const settlementWithLines = z
  .object({ ...settlementResource.shape, lines: z.array(settlementLine) })
  .meta({ id: 'SettlementWithLines', description: 'A settlement with what it adds up, in the order the money moved.' });
