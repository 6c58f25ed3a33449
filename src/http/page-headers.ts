import type { Context } from 'koa';

/**
 * Only this origin: our pages work without internet, and a page cannot be made to send
 * what it reads (an admin token, a customer's payments) anywhere else. Mermaid and
 * Swagger UI style their output with inline styles and data: images, hence those two.
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
].join('; ');

/** Answers with one of our HTML pages, under the headers every page gets. */
export function sendPage(ctx: Context, html: string): void {
  ctx.set('Content-Security-Policy', CONTENT_SECURITY_POLICY);
  ctx.set('X-Content-Type-Options', 'nosniff');
  ctx.set('Referrer-Policy', 'no-referrer');
  ctx.type = 'text/html; charset=utf-8';
  ctx.body = html;
}
