import { z } from 'zod';
import { seededRandom } from '../seeded-random.ts';
import { PgApiError } from './pg-api-error.ts';

/**
 * Rates are probabilities per request. `ambiguousRate` is a share of all requests
 * taken out of the failures, so it only has an effect up to `failureRate`.
 */
export interface ChaosSettings {
  failureRate: number;
  delayRate: number;
  delayMs: number;
  ambiguousRate: number;
  /** Share of cancels (refunds, voids) the card issuer refuses for good (400 PG_PROVIDER), test keys included. */
  cancelRefusalRate: number;
  seed: number;
}

const rate = z.number().min(0).max(1);

export const chaosSettingsSchema = z
  .object({
    failureRate: rate,
    delayRate: rate,
    delayMs: z.number().int().nonnegative(),
    ambiguousRate: rate,
    cancelRefusalRate: rate,
    seed: z.number().int(),
  })
  .partial()
  .strict();

const DEFAULT_CHAOS: ChaosSettings = { failureRate: 0, delayRate: 0, delayMs: 60_000, ambiguousRate: 0, cancelRefusalRate: 0, seed: 1 };

/** What the PG does with a request: `error` changes nothing, `ambiguous` does the work and hides the answer. */
export type Outcome = 'ok' | 'decline' | 'error' | 'ambiguous';

export interface Plan {
  delayed: boolean;
  outcome: Outcome;
}

/** How an `error` or `ambiguous` request ends: a 5xx answer or a connection reset. */
export type FailureStyle = 500 | 502 | 503 | 'reset';
const FAILURE_STYLES: readonly FailureStyle[] = [500, 502, 503, 'reset'];

const OK: Plan = { delayed: false, outcome: 'ok' };
const REFUSED: Plan = { delayed: false, outcome: 'decline' };

// Maps, not object literals: a header or key such as `constructor` must not hit the prototype.
const FORCED_PLANS = new Map<string, Plan>([
  ['ok', OK],
  ['decline', { delayed: false, outcome: 'decline' }],
  ['error', { delayed: false, outcome: 'error' }],
  ['ambiguous', { delayed: false, outcome: 'ambiguous' }],
  ['delay', { delayed: true, outcome: 'ok' }],
]);

/** Like card networks' test cards: the key alone decides the charge, whatever the rates. */
const TEST_KEY_PLANS = new Map<string, Plan>(
  [...FORCED_PLANS].map(([name, plan]) => [`bk_test_${name}`, plan]),
);

export const MISSING_BILLING_KEY = 'bk_test_missing';

export function isTestBillingKey(billingKey: string): boolean {
  return TEST_KEY_PLANS.has(billingKey) || billingKey === MISSING_BILLING_KEY;
}

/** Reads the `x-chaos` header; an unknown value is a client bug worth a 400. */
export function forcedPlan(header: string): Plan | undefined {
  if (header === '') return undefined;
  const plan = FORCED_PLANS.get(header);
  if (!plan) {
    throw new PgApiError(400, 'INVALID_REQUEST', `x-chaos must be one of ${[...FORCED_PLANS.keys()].join(', ')}`);
  }
  return plan;
}

export type Chaos = ReturnType<typeof createChaos>;

export function createChaos(initial: Partial<ChaosSettings>) {
  let settings: ChaosSettings = { ...DEFAULT_CHAOS, ...chaosSettingsSchema.parse(initial) };
  let next = seededRandom(settings.seed);

  function randomPlan(): Plan {
    const delayed = next() < settings.delayRate;
    if (next() >= settings.failureRate) return { delayed, outcome: 'ok' };
    const ambiguousShare = Math.min(1, settings.ambiguousRate / settings.failureRate);
    const split = next();
    if (split < ambiguousShare) return { delayed, outcome: 'ambiguous' };
    return { delayed, outcome: split < ambiguousShare + (1 - ambiguousShare) / 2 ? 'decline' : 'error' };
  }

  return {
    settings: (): ChaosSettings => ({ ...settings }),

    update(partial: Partial<ChaosSettings>): void {
      settings = { ...settings, ...chaosSettingsSchema.parse(partial) };
      if (partial.seed !== undefined) next = seededRandom(partial.seed);
    },

    planCharge(forced: Plan | undefined, billingKey: string): Plan {
      return forced ?? TEST_KEY_PLANS.get(billingKey) ?? randomPlan();
    },

    /**
     * Payments made with a test key stay deterministic end to end, refunds included.
     * A random failure of a cancel is never a decline: clients must retry it. Only
     * cancelRefusalRate refuses cancels (drawn only when set, so seeded runs stay as they were).
     */
    planCancel(forced: Plan | undefined, billingKey: string): Plan {
      if (forced) return forced;
      if (settings.cancelRefusalRate > 0 && next() < settings.cancelRefusalRate) return REFUSED;
      if (isTestBillingKey(billingKey)) return OK;
      const plan = randomPlan();
      return plan.outcome === 'decline' ? { ...plan, outcome: 'error' } : plan;
    },

    failureStyle(): FailureStyle {
      return FAILURE_STYLES[Math.floor(next() * FAILURE_STYLES.length)]!;
    },
  };
}
