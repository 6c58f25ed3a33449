import type { z } from 'zod';
import { validationFailed } from '../errors.ts';

/**
 * Parses with zod; every issue becomes one `errors[]` entry of a 400 validation_failed.
 * `at` names where the value sits in the request (`data` of an inbound event).
 */
export function validate<S extends z.ZodType>(schema: S, value: unknown, at: PropertyKey[] = []): z.infer<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw validationFailed(
    result.error.issues.map((issue) => ({ path: [...at, ...issue.path].map(String).join('.') || '(root)', message: issue.message })),
  );
}
