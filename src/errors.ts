/** One problem in a request: `path` is a JSON-pointer-ish dotted path. */
export interface FieldError {
  path: string;
  message: string;
}

/**
 * The service's one error type. The HTTP middleware maps it to an RFC 9457 problem
 * document; anything else becomes an opaque 500.
 */
export class AppError extends Error {
  override name = 'AppError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly errors: FieldError[] = [],
    /** A dependency's failure behind this answer: logged, never shown. */
    options?: { cause: unknown },
  ) {
    super(message, options);
  }
}

export const notFound = (what: string) => new AppError(404, 'not_found', `${what} was not found`);
export const validationFailed = (errors: FieldError[]) =>
  new AppError(400, 'validation_failed', 'The request is not valid', errors);

/** Another process holds the payment, or its write was refused just now: the client may simply retry. */
export const paymentBusy = () =>
  new AppError(503, 'payment_busy', 'Another instance is working on this payment; try again shortly');
