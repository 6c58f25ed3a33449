import { expect } from 'vitest';
import type { Reply } from './harness.ts';

/** A problem document (RFC 9457) with this status and code. */
export function expectProblem(reply: Reply, status: number, code: string, what = `${status} ${code}`): void {
  expect(reply.status, what).toBe(status);
  expect(reply.headers.get('content-type')).toContain('application/problem+json');
  expect(reply.body).toMatchObject({ status, code });
  expect(Array.isArray(reply.body.errors)).toBe(true);
}

/** Spellings of a path that are not the path: case, trailing and doubled slashes, percent-encoded letters. */
export function misspellingsOf(path: string): string[] {
  const segments = path.slice(1).split('/');
  const last = segments.length - 1;
  const replace = (index: number, segment: string) => `/${segments.map((s, i) => (i === index ? segment : s)).join('/')}`;
  const resource = segments[1]!;
  return [
    ...new Set([
      replace(1, resource.toUpperCase()),
      replace(1, resource[0]!.toUpperCase() + resource.slice(1)),
      replace(0, 'V1'),
      replace(last, segments[last]!.toUpperCase()),
      `${path}/`,
      path.replace('/v1/', '/v1//'),
      `/${path}`,
      replace(1, `%${resource.charCodeAt(0).toString(16)}${resource.slice(1)}`),
    ]),
  ];
}
