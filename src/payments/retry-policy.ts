import type { RetryPolicy } from '../../machines/payment.machine.ts';
import type { Config } from '../config.ts';

/** The payment machine's retry policy, from the configuration (it travels in each payment's context). */
export function retryPolicyFrom(config: Config): RetryPolicy {
  return {
    baseMs: config.RETRY_BASE_MS,
    capMs: config.RETRY_CAP_MS,
    stepRetries: config.STEP_RETRIES,
    notFoundGraceMs: config.PG_NOT_FOUND_GRACE_MS,
    maxCharges: config.MAX_CHARGE_ATTEMPTS,
    inquiryAlertAfterMs: config.INQUIRY_ALERT_AFTER_MS,
    lateChargeWindowMs: config.LATE_CHARGE_WINDOW_MS,
    lateChargeChecks: config.LATE_CHARGE_CHECKS,
  };
}
