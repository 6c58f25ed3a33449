import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino, type Logger } from 'pino';
import { createMockPgApp } from './app.ts';
import { createChaos, type ChaosSettings } from './chaos.ts';
import { createDelays } from './delays.ts';
import { ledgerEditSchema, type LedgerChanges } from './ledger-edit.ts';
import { createPaymentStore, type LedgerEntry, type PaymentRecord } from './payment-store.ts';
import { toPaymentView, toTransactionWebhook, type PaymentView } from './payment-view.ts';
import { parseWith } from './request-input.ts';
import { createWebhookSender, type WebhookRetry } from './webhook-sender.ts';

export type { ChaosSettings, LedgerChanges, LedgerEntry, PaymentView, WebhookRetry };

export interface MockPgOptions {
  /** Clients send `Authorization: PortOne <secret>`. */
  secret: string;
  storeId: string;
  /** `whsec_…` (Standard Webhooks). */
  webhookSecret: string;
  /** Where webhooks go; none → not sent. */
  webhookUrl?: string;
  /** Defaults: all rates 0, delayMs 60000, seed 1. */
  chaos?: Partial<ChaosSettings>;
  logger?: Logger;
  /** Default `{ attempts: 8, baseMs: 1000 }`, doubling after each failure: about two minutes, as a PG keeps trying. */
  webhookRetry?: WebhookRetry;
}

export interface MockPg {
  /** Resolves to the base URL, e.g. http://127.0.0.1:PORT. */
  listen(port: number, host?: string): Promise<string>;
  /** Closes the server, drops open sockets, cancels pending delays and webhook retries. */
  close(): Promise<void>;
  ledger(): LedgerEntry[];
  /** As `PUT /__ledger/:paymentId`: sets fields in the PG's books (creating the payment if absent); throws PgApiError on bad changes. */
  editLedger(paymentId: string, changes: LedgerChanges): PaymentView;
  /** As `DELETE /__ledger/:paymentId`; throws PgApiError PAYMENT_NOT_FOUND if absent. */
  removeFromLedger(paymentId: string): void;
  setChaos(settings: Partial<ChaosSettings>): void;
  chaos(): ChaosSettings;
  setWebhookUrl(url: string | undefined): void;
}

/** A PortOne V2 look-alike with injectable failures: the PG of tests, demos and chaos runs. */
export function createMockPg(options: MockPgOptions): MockPg {
  const logger = (options.logger ?? pino({ level: 'silent' })).child({ component: 'mock-pg' });
  const chaos = createChaos(options.chaos ?? {});
  const store = createPaymentStore();
  const delays = createDelays();
  const webhooks = createWebhookSender({
    secret: options.webhookSecret,
    retry: options.webhookRetry ?? { attempts: 8, baseMs: 1_000 },
    logger,
  });
  let webhookUrl = options.webhookUrl;

  const announce = (record: PaymentRecord) => {
    const event = toTransactionWebhook(record, options.storeId);
    if (webhookUrl && event) webhooks.send(webhookUrl, event);
  };
  const app = createMockPgApp({ secret: options.secret, storeId: options.storeId, store, chaos, delays, announce, logger });
  const server = createServer(app.callback());

  return {
    async listen(port, host = '127.0.0.1') {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve();
        });
      });
      const { port: actualPort } = server.address() as AddressInfo;
      return `http://${host.includes(':') ? `[${host}]` : host}:${actualPort}`;
    },

    async close() {
      delays.cancelAll();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await Promise.all([closed, webhooks.close()]);
    },

    ledger: () => store.ledger(),
    editLedger: (paymentId, changes) =>
      toPaymentView(store.editLedger(paymentId, parseWith(ledgerEditSchema, changes)), options.storeId),
    removeFromLedger: (paymentId) => store.remove(paymentId),
    setChaos: (settings) => chaos.update(settings),
    chaos: () => chaos.settings(),
    setWebhookUrl(url) {
      webhookUrl = url;
    },
  };
}
