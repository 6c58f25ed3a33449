import { request } from 'undici';
import type { ChaosSettings } from '../mock-pg/chaos.ts';
import { AppError } from '../errors.ts';

export interface MockPgControls {
  chaos(): Promise<ChaosSettings>;
  setChaos(changes: Partial<ChaosSettings>): Promise<ChaosSettings>;
}

/** How long the console waits for the mock's test controls. */
const TIMEOUT_MS = 5_000;

/**
 * The chaos controls of Paystate's own mock PG (`/__chaos`), for the console: the
 * browser cannot reach the mock (another origin, and its secret is the service's).
 */
export function createMockPgControls({ baseUrl, secret }: { baseUrl: string; secret: string }): MockPgControls {
  async function call(method: 'GET' | 'POST', body?: unknown): Promise<ChaosSettings> {
    const unreachable = (cause: unknown) => new AppError(502, 'mock_pg_unreachable', 'The mock PG did not answer its test controls', [], { cause });
    try {
      const response = await request(new URL('/__chaos', baseUrl), {
        method,
        headers: { authorization: `PortOne ${secret}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
        headersTimeout: TIMEOUT_MS,
        bodyTimeout: TIMEOUT_MS,
      });
      const answer = (await response.body.json()) as ChaosSettings;
      if (response.statusCode !== 200) throw new Error(`mock PG answered ${response.statusCode}: ${JSON.stringify(answer)}`);
      return answer;
    } catch (error) {
      throw unreachable(error);
    }
  }
  return { chaos: () => call('GET'), setChaos: (changes) => call('POST', changes) };
}
