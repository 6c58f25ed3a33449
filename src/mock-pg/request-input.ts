import { z } from 'zod';
import { PgApiError } from './pg-api-error.ts';

export function parseWith<S extends z.ZodType>(schema: S, input: unknown): z.infer<S> {
  const result = schema.safeParse(input);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `${issue.path.join('.') || 'body'}: ${issue.message}`);
    throw new PgApiError(400, 'INVALID_REQUEST', problems.join('; '));
  }
  return result.data;
}

/** An RFC 3339 date-time (any offset), read as epoch milliseconds. */
export const instant = z.iso.datetime({ offset: true }).transform((text) => Date.parse(text));

/** Like PortOne, a request may name a store, but only the one the secret belongs to. */
export function assertOwnStore(requested: unknown, storeId: string): void {
  if (requested !== undefined && requested !== storeId) {
    throw new PgApiError(403, 'FORBIDDEN', 'the secret has no access to that store');
  }
}

/** The `:paymentId` of the route (the router decodes it). */
export function paymentIdOf(ctx: { params: Record<string, string> }): string {
  const paymentId = ctx.params.paymentId;
  if (!paymentId) throw new PgApiError(400, 'INVALID_REQUEST', 'paymentId is missing');
  return paymentId;
}
