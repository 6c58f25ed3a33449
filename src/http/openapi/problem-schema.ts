import { z } from 'zod';

/** RFC 9457 problem document, as src/http/problem.ts sends every error. */
export const problemSchema = z
  .object({
    type: z.url().meta({ description: '`https://paystate.dev/problems/<code>`: an identifier, not a page to fetch' }),
    title: z.string().meta({ description: 'the HTTP status phrase' }),
    status: z.int().min(400).max(599),
    detail: z.string().meta({ description: 'a sentence for people; do not parse it' }),
    code: z.string().regex(/^[a-z][a-z0-9_]*$/).meta({ description: 'the stable snake_case identifier to program against' }),
    errors: z
      .array(z.object({ path: z.string().meta({ description: 'dotted path, `(root)` for the whole body' }), message: z.string() }))
      .meta({ description: 'one entry per problem for `validation_failed` and `unknown_product`; empty otherwise' }),
  })
  .meta({ id: 'Problem', description: 'An error (RFC 9457), served as `application/problem+json`.' });

/**
 * The problem document of one response, its `code` narrowed to the codes that response can
 * carry: a client (and the contract test) sees exactly which codes a status stands for.
 */
export const problemWithCodes = (codes: [string, ...string[]]) =>
  z.intersection(problemSchema, z.looseObject({ code: z.enum(codes) }));
