import { createHash, timingSafeEqual } from 'node:crypto';
import type { Context, Next } from 'koa';
import { AppError } from '../errors.ts';

const digest = (value: string) => createHash('sha256').update(value).digest();

/** Bearer ADMIN_TOKEN, compared in constant time (hashing first evens out the lengths). */
export function requireAdmin(adminToken: string) {
  const expected = digest(adminToken);
  return async (ctx: Context, next: Next): Promise<void> => {
    // The scheme is case-insensitive (RFC 9110); the token is not.
    const [, token = ''] = /^bearer (.*)$/is.exec(ctx.get('authorization')) ?? [];
    if (!timingSafeEqual(digest(token), expected) || token.length === 0) {
      throw new AppError(401, 'unauthorized', 'A valid admin bearer token is required');
    }
    await next();
  };
}
