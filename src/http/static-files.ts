import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Context } from 'koa';

export interface StaticFile {
  /** Where it is on disk: this repository or node_modules. */
  path: string;
  /** Its Content-Type. */
  type: string;
}

/**
 * Serves files by name from a fixed list (any other name serves nothing: no path of
 * another shape, `..%2F…`, reaches the disk). Each is read once and kept, and sent with
 * an ETag, so a revalidation is a 304 and a client that stalls holds no open file.
 * Returns false for a name not on the list.
 */
export function staticFiles(files: ReadonlyMap<string, StaticFile>, cacheControl: string) {
  const read = new Map<string, { body: Buffer; etag: string }>();
  return (ctx: Context, name: string): boolean => {
    const file = files.get(name);
    if (!file) return false;
    let content = read.get(name);
    if (!content) {
      const body = readFileSync(file.path);
      content = { body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` };
      read.set(name, content);
    }
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.set('Cache-Control', cacheControl);
    ctx.set('ETag', content.etag);
    ctx.type = file.type;
    ctx.body = content.body;
    // Koa weighs If-None-Match only against a 2xx answer: the body first, then the check.
    if (ctx.fresh) ctx.status = 304;
    return true;
  };
}
