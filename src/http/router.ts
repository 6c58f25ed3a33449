import Router, { type RouterOptions } from '@koa/router';

/**
 * Every router of the API: case-sensitive and strict, so a path is ours only exactly as
 * written (`/v1/ADMIN/…`, `/v1/payments/` are 404s). Authorization then cannot depend on
 * how a path is spelled. Under `strict`, a prefixed `'/'` route would answer only with a
 * trailing slash, so routers with a root route use full paths instead of a prefix.
 */
export function exactRouter(options: Pick<RouterOptions, 'prefix'> = {}): Router {
  return new Router({ ...options, sensitive: true, strict: true });
}
