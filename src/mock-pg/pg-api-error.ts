/**
 * An error answer in PortOne's shape: `{ type, message, ...details }`.
 * The error middleware turns it into the response; anything else is a 500.
 */
export class PgApiError extends Error {
  override name = 'PgApiError';
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
    readonly details: Record<string, string> = {},
  ) {
    super(message);
  }

  toBody(): Record<string, string> {
    return { type: this.type, message: this.message, ...this.details };
  }
}
