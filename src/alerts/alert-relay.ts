import { request } from 'undici';
import { backoffMs } from '../../machines/backoff.ts';
import type { Database } from '../../db/connection.ts';
import {
  claimAlerts,
  dueAlerts,
  markAlertDelivered,
  markAlertFailed,
  type AlertRow,
} from '../../db/attention-repo.ts';
import type { Logger } from '../logger.ts';
import { startPollingLoop } from '../polling-loop.ts';

export interface AlertRelayDeps {
  db: Database;
  /** Slack-compatible incoming webhook; without it alerts are logged. */
  webhookUrl: string | undefined;
  clock: () => number;
  pollMs: number;
  logger: Logger;
}

const CLAIM_MS = 30_000;
const TIMEOUT_MS = 5_000;

/** Slack's incoming-webhook body: `text` for the notification, blocks-free so any compatible receiver takes it. */
export function slackMessage(alert: AlertRow) {
  const details = JSON.parse(alert.details) as Record<string, unknown>;
  const lines = Object.entries(details).map(([k, v]) => `• ${k}: ${String(v)}`);
  const icon = alert.severity === 'urgent' ? ':rotating_light:' : ':warning:';
  return {
    text: `${icon} [${alert.severity.toUpperCase()}] ${alert.title}\n${lines.join('\n')}`,
    severity: alert.severity,
    paymentId: alert.paymentId,
    alertId: alert.id,
    details,
    createdAt: new Date(alert.createdAt).toISOString(),
  };
}

/**
 * Delivers the alerts table: each alert is claimed, posted, and marked delivered;
 * a failed post is retried with backoff, never dropped.
 */
export function startAlertRelay({ db, webhookUrl, clock, pollMs, logger }: AlertRelayDeps) {
  const log = logger.child({ component: 'alert-relay' });

  async function deliver(alert: AlertRow): Promise<void> {
    const message = slackMessage(alert);
    if (!webhookUrl) {
      log.error({ alert: message }, 'ALERT (no ALERT_WEBHOOK_URL set)');
      await db.commit.run((tx) => markAlertDelivered(tx, alert.id, clock()));
      return;
    }
    try {
      const response = await request(webhookUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(message),
        headersTimeout: TIMEOUT_MS,
        bodyTimeout: TIMEOUT_MS,
      });
      await response.body.dump();
      if (response.statusCode >= 300) throw new Error(`HTTP ${response.statusCode}`);
      await db.commit.run((tx) => markAlertDelivered(tx, alert.id, clock()));
      log.info({ alertId: alert.id, paymentId: alert.paymentId }, 'alert delivered');
    } catch (error) {
      const attempts = alert.attempts + 1;
      const wait = Math.max(pollMs, backoffMs(attempts, String(alert.id), 1_000, 300_000));
      await db.commit.run((tx) => markAlertFailed(tx, alert.id, attempts, clock() + wait, (error as Error).message));
      log.warn({ alertId: alert.id, attempts, err: error }, 'alert delivery failed; will retry');
    }
  }

  async function pass(): Promise<void> {
    const now = clock();
    const due = await dueAlerts(db.read, now, 50);
    if (due.length === 0) return;
    const claimed = await db.commit.run(async (tx) => {
      const taken = new Set(await claimAlerts(tx, due.map((alert) => alert.id), now, CLAIM_MS));
      return due.filter((alert) => taken.has(alert.id));
    });
    await Promise.all(claimed.map(deliver));
  }

  return startPollingLoop(pass, pollMs, (error) => log.error({ err: error }, 'alert relay pass failed'));
}
