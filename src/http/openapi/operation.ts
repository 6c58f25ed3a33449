import { z } from 'zod';
import type {
  ZodOpenApiOperationObject,
  ZodOpenApiParameters,
  ZodOpenApiRequestBodyObject,
  ZodOpenApiResponseObject,
  ZodOpenApiResponsesObject,
} from 'zod-openapi';
import { IDEMPOTENCY_KEY } from '../schemas.ts';
import { problemWithCodes } from './problem-schema.ts';

/** What each problem code means at one status of one operation: `{ not_found: 'no such payment' }`. */
export type Codes = Record<string, string>;
export type Problems = Record<number, Codes>;

export const ADMIN_SECURITY = 'adminToken';

type Method = 'get' | 'post' | 'patch' | 'delete';

interface OperationSpec {
  operationId: string;
  summary: string;
  description?: string;
  tag: string;
  /** Needs `Authorization: Bearer <ADMIN_TOKEN>`. */
  admin?: boolean;
  /** Requires an `Idempotency-Key` header. */
  idempotencyKey?: boolean;
  /** Records the optional `X-Admin-Actor` header in the audit trail. */
  actor?: boolean;
  /** Read raw by the route rather than by the JSON body parser (the PG webhook): none of the parser's errors. */
  rawBody?: boolean;
  requestBody?: ZodOpenApiRequestBodyObject;
  requestParams?: ZodOpenApiParameters;
  responses: ZodOpenApiResponsesObject;
  problems?: Problems;
}

const idempotencyKeyHeader = z
  .string()
  .regex(IDEMPOTENCY_KEY)
  .meta({
    param: { name: 'Idempotency-Key', in: 'header', required: true },
    description: 'The same key with the same body replays the first answer (`Idempotent-Replayed: true`); with another body: 422.',
  });

const actorHeader = z
  .string()
  .optional()
  .meta({
    param: { name: 'X-Admin-Actor', in: 'header' },
    description: 'Who acts, for the audit trail: 1–100 characters of letters, digits and `_ . @ : + -`; anything else is recorded as `admin`.',
  });

/** Answers the problem middleware can give any request: what the JSON body parser refuses, 500 and 503. */
const BODY_PROBLEMS: Problems = {
  400: { invalid_json: 'the body is not valid JSON', invalid_encoding: 'the body does not decode as its Content-Encoding says' },
  413: { payload_too_large: 'the body is over 64 KiB' },
  415: { unsupported_encoding: 'a Content-Encoding other than identity, gzip, deflate or br' },
};
const ANY_PROBLEMS: Problems = {
  500: { internal_error: 'an unexpected failure; internals are never shown' },
  503: { temporarily_unavailable: 'the database refused the work for a moment; nothing changed (`Retry-After: 1`)' },
};

function mergeProblems(...all: Problems[]): Problems {
  const merged: Problems = {};
  for (const problems of all) {
    for (const [status, codes] of Object.entries(problems)) merged[Number(status)] = { ...merged[Number(status)], ...codes };
  }
  return merged;
}

function problemResponse(codes: Codes, status: number): ZodOpenApiResponseObject {
  const names = Object.keys(codes) as [string, ...string[]];
  return {
    description: Object.entries(codes)
      .map(([code, when]) => `\`${code}\`: ${when}`)
      .join('. '),
    content: { 'application/problem+json': { schema: problemWithCodes(names) } },
    ...(status === 503 ? { headers: z.object({ 'Retry-After': z.string().meta({ description: 'seconds' }) }) } : {}),
  };
}

/**
 * One operation of the document, with what every route of its kind shares added: the admin
 * security requirement and its 401, the Idempotency-Key header and its 400s, the body parser's
 * errors on POST and PATCH, and the 500 and 503 of the problem middleware.
 */
export function operation(method: Method, spec: OperationSpec): ZodOpenApiOperationObject {
  const { tag, admin, idempotencyKey, actor, rawBody, problems = {}, responses, ...rest } = spec;
  const readsJson = (method === 'post' || method === 'patch') && !rawBody;
  const allProblems = mergeProblems(
    readsJson ? BODY_PROBLEMS : {},
    idempotencyKey
      ? {
          400: {
            idempotency_key_required: 'the Idempotency-Key header is missing (checked first)',
            invalid_idempotency_key: 'Idempotency-Key is not 1–255 characters of `A–Z a–z 0–9 _ . : -`',
          },
        }
      : {},
    admin ? { 401: { unauthorized: 'no valid admin bearer token' } } : {},
    problems,
    ANY_PROBLEMS,
  );
  const parameters = [...(idempotencyKey ? [idempotencyKeyHeader] : []), ...(actor ? [actorHeader] : [])];
  return {
    ...rest,
    tags: [tag],
    ...(admin ? { security: [{ [ADMIN_SECURITY]: [] }] } : {}),
    ...(parameters.length > 0 ? { parameters } : {}),
    responses: {
      // A status the route answers with its own body (503 of /readyz) is not a problem document.
      ...Object.fromEntries(Object.entries(allProblems).map(([status, codes]) => [status, problemResponse(codes, Number(status))])),
      ...responses,
    },
  };
}

/** A JSON answer. */
export const json = (description: string, schema: z.ZodType, headers?: z.ZodObject): ZodOpenApiResponseObject => ({
  description,
  content: { 'application/json': { schema } },
  ...(headers ? { headers } : {}),
});

/** A JSON request body. */
export const jsonBody = (schema: z.ZodType, required = true): ZodOpenApiRequestBodyObject => ({
  required,
  content: { 'application/json': { schema } },
});

export const locationHeader = (description: string) => z.object({ Location: z.string().meta({ description }) });
