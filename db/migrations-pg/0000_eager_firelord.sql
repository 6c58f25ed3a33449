CREATE TABLE "alerts" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"payment_id" text,
	"severity" text NOT NULL,
	"title" text NOT NULL,
	"details" text NOT NULL,
	"created_at" bigint NOT NULL,
	"attempts" bigint DEFAULT 0 NOT NULL,
	"next_attempt_at" bigint NOT NULL,
	"delivered_at" bigint,
	"last_error" text
);
--> statement-breakpoint
CREATE TABLE "cancellations" (
	"id" text PRIMARY KEY NOT NULL,
	"payment_id" text NOT NULL,
	"seq" bigint NOT NULL,
	"idempotency_key" text NOT NULL,
	"request_fingerprint" text NOT NULL,
	"amount" bigint NOT NULL,
	"reason" text NOT NULL,
	"status" text NOT NULL,
	"pg_calls" bigint DEFAULT 0 NOT NULL,
	"requested_at" bigint NOT NULL,
	"completed_at" bigint
);
--> statement-breakpoint
CREATE TABLE "cursors" (
	"name" text PRIMARY KEY NOT NULL,
	"position" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "failed_events" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"kind" text DEFAULT 'payment_step' NOT NULL,
	"payment_id" text,
	"step" text NOT NULL,
	"reason" text NOT NULL,
	"status" text NOT NULL,
	"event_id" text,
	"endpoint_id" text,
	"payload" text,
	"created_at" bigint NOT NULL,
	"updated_at" bigint NOT NULL,
	"resolved_by" text,
	"note" text
);
--> statement-breakpoint
CREATE TABLE "fulfilments" (
	"payment_id" text PRIMARY KEY NOT NULL,
	"customer_id" text NOT NULL,
	"items" text NOT NULL,
	"created_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "locks" (
	"name" text PRIMARY KEY NOT NULL,
	"owner" text NOT NULL,
	"expires_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "money_movements" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"payment_id" text NOT NULL,
	"kind" text NOT NULL,
	"amount" bigint NOT NULL,
	"at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "partners" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"fee_rate_bps" bigint NOT NULL,
	"created_at" bigint NOT NULL,
	"updated_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "payment_events" (
	"position" bigserial PRIMARY KEY NOT NULL,
	"id" text NOT NULL,
	"payment_id" text NOT NULL,
	"sequence" bigint NOT NULL,
	"type" text NOT NULL,
	"occurred_at" bigint NOT NULL,
	"data" text NOT NULL,
	"published_at" bigint
);
--> statement-breakpoint
CREATE TABLE "payment_transitions" (
	"payment_id" text NOT NULL,
	"seq" bigint NOT NULL,
	"type" text NOT NULL,
	"from_state" text,
	"to_state" text NOT NULL,
	"at" bigint NOT NULL,
	"reason" text,
	"detail" text,
	CONSTRAINT "payment_transitions_payment_id_seq_pk" PRIMARY KEY("payment_id","seq")
);
--> statement-breakpoint
CREATE TABLE "payments" (
	"id" text PRIMARY KEY NOT NULL,
	"idempotency_key" text NOT NULL,
	"request_fingerprint" text NOT NULL,
	"customer_id" text NOT NULL,
	"partner_id" text NOT NULL,
	"amount" bigint NOT NULL,
	"cancelled_amount" bigint DEFAULT 0 NOT NULL,
	"currency" text NOT NULL,
	"items" text NOT NULL,
	"order_name" text NOT NULL,
	"billing_key" text NOT NULL,
	"metadata" text,
	"state" text NOT NULL,
	"status" text NOT NULL,
	"failure_code" text,
	"snapshot" text NOT NULL,
	"machine_version" bigint NOT NULL,
	"due_at" bigint,
	"active" bigint DEFAULT 0 NOT NULL,
	"charges_started" bigint DEFAULT 0 NOT NULL,
	"lease_owner" text,
	"lease_expires_at" bigint,
	"created_at" bigint NOT NULL,
	"updated_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "products" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"price" bigint NOT NULL,
	"currency" text DEFAULT 'KRW' NOT NULL,
	"stock" bigint NOT NULL,
	"total_stock" bigint DEFAULT 0 NOT NULL,
	"partner_id" text NOT NULL,
	"created_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "refund_attempts" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"payment_id" text NOT NULL,
	"cancellation_id" text NOT NULL,
	"at" bigint NOT NULL,
	"outcome" text NOT NULL,
	"pg_code" text,
	"message" text
);
--> statement-breakpoint
CREATE TABLE "settlement_lines" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"settlement_id" text NOT NULL,
	"payment_id" text NOT NULL,
	"kind" text NOT NULL,
	"amount" bigint NOT NULL,
	"fee" bigint NOT NULL,
	"at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "settlement_runs" (
	"date" text PRIMARY KEY NOT NULL,
	"state" text NOT NULL,
	"status" text NOT NULL,
	"snapshot" text NOT NULL,
	"machine_version" bigint NOT NULL,
	"requests" bigint NOT NULL,
	"requested_at" bigint NOT NULL,
	"pending" bigint NOT NULL,
	"unattributed" text DEFAULT '[]' NOT NULL,
	"due_at" bigint,
	"lease_owner" text,
	"lease_expires_at" bigint,
	"created_at" bigint NOT NULL,
	"updated_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "settlements" (
	"id" text PRIMARY KEY NOT NULL,
	"partner_id" text NOT NULL,
	"date" text NOT NULL,
	"status" text NOT NULL,
	"currency" text NOT NULL,
	"payment_count" bigint DEFAULT 0 NOT NULL,
	"gross_amount" bigint DEFAULT 0 NOT NULL,
	"refund_count" bigint DEFAULT 0 NOT NULL,
	"refund_amount" bigint DEFAULT 0 NOT NULL,
	"fee_amount" bigint DEFAULT 0 NOT NULL,
	"net_amount" bigint DEFAULT 0 NOT NULL,
	"discrepancies" text DEFAULT '[]' NOT NULL,
	"created_at" bigint NOT NULL,
	"completed_at" bigint
);
--> statement-breakpoint
CREATE TABLE "stock_reservations" (
	"payment_id" text NOT NULL,
	"product_id" text NOT NULL,
	"quantity" bigint NOT NULL,
	"status" text NOT NULL,
	"created_at" bigint NOT NULL,
	"released_at" bigint,
	CONSTRAINT "stock_reservations_payment_id_product_id_pk" PRIMARY KEY("payment_id","product_id")
);
--> statement-breakpoint
CREATE TABLE "webhook_attempts" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"delivery_id" bigint NOT NULL,
	"endpoint_id" text NOT NULL,
	"event_id" text NOT NULL,
	"attempt" bigint NOT NULL,
	"status" text NOT NULL,
	"response_status" bigint,
	"duration_ms" bigint NOT NULL,
	"error" text,
	"at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "webhook_deliveries" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"endpoint_id" text NOT NULL,
	"event_id" text NOT NULL,
	"payment_id" text NOT NULL,
	"sequence" bigint NOT NULL,
	"status" text NOT NULL,
	"attempts" bigint DEFAULT 0 NOT NULL,
	"next_attempt_at" bigint NOT NULL,
	"claimed_by" text,
	"claimed_until" bigint,
	"delivered_at" bigint,
	"last_error" text
);
--> statement-breakpoint
CREATE TABLE "webhook_endpoints" (
	"id" text PRIMARY KEY NOT NULL,
	"url" text NOT NULL,
	"events" text NOT NULL,
	"description" text,
	"secret" text NOT NULL,
	"disabled" bigint DEFAULT 0 NOT NULL,
	"created_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "webhook_receipts" (
	"id" text PRIMARY KEY NOT NULL,
	"type" text NOT NULL,
	"payment_id" text,
	"received_at" bigint NOT NULL,
	"status" text DEFAULT 'done' NOT NULL,
	"claimed_until" bigint DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE INDEX "alerts_pending" ON "alerts" USING btree ("next_attempt_at") WHERE delivered_at is null;--> statement-breakpoint
CREATE UNIQUE INDEX "cancellations_key" ON "cancellations" USING btree ("payment_id","idempotency_key");--> statement-breakpoint
CREATE INDEX "failed_events_status" ON "failed_events" USING btree ("status","id");--> statement-breakpoint
CREATE INDEX "failed_events_payment" ON "failed_events" USING btree ("payment_id");--> statement-breakpoint
CREATE INDEX "money_movements_at" ON "money_movements" USING btree ("at");--> statement-breakpoint
CREATE INDEX "money_movements_payment" ON "money_movements" USING btree ("payment_id");--> statement-breakpoint
CREATE UNIQUE INDEX "payment_events_id" ON "payment_events" USING btree ("id");--> statement-breakpoint
CREATE UNIQUE INDEX "payment_events_sequence" ON "payment_events" USING btree ("payment_id","sequence");--> statement-breakpoint
CREATE INDEX "payment_events_type" ON "payment_events" USING btree ("type","position");--> statement-breakpoint
CREATE INDEX "payment_events_unpublished" ON "payment_events" USING btree ("position") WHERE published_at is null;--> statement-breakpoint
CREATE UNIQUE INDEX "payments_idempotency_key" ON "payments" USING btree ("idempotency_key");--> statement-breakpoint
CREATE INDEX "payments_created" ON "payments" USING btree ("created_at","id");--> statement-breakpoint
CREATE INDEX "payments_customer_created" ON "payments" USING btree ("customer_id","created_at","id");--> statement-breakpoint
CREATE INDEX "payments_partner_created" ON "payments" USING btree ("partner_id","created_at","id");--> statement-breakpoint
CREATE INDEX "payments_partner_status_created" ON "payments" USING btree ("partner_id","status","created_at","id");--> statement-breakpoint
CREATE INDEX "payments_status_created" ON "payments" USING btree ("status","created_at","id");--> statement-breakpoint
CREATE INDEX "payments_due" ON "payments" USING btree ("due_at") WHERE due_at is not null;--> statement-breakpoint
CREATE INDEX "payments_active" ON "payments" USING btree ("updated_at") WHERE active = 1;--> statement-breakpoint
CREATE INDEX "refund_attempts_cancellation" ON "refund_attempts" USING btree ("cancellation_id");--> statement-breakpoint
CREATE INDEX "settlement_lines_settlement" ON "settlement_lines" USING btree ("settlement_id","at");--> statement-breakpoint
CREATE INDEX "settlement_runs_status" ON "settlement_runs" USING btree ("status");--> statement-breakpoint
CREATE INDEX "settlement_runs_pending" ON "settlement_runs" USING btree ("pending") WHERE pending = 1;--> statement-breakpoint
CREATE UNIQUE INDEX "settlements_partner_date" ON "settlements" USING btree ("partner_id","date");--> statement-breakpoint
CREATE INDEX "settlements_date" ON "settlements" USING btree ("date");--> statement-breakpoint
CREATE INDEX "reservations_product" ON "stock_reservations" USING btree ("product_id","status");--> statement-breakpoint
CREATE INDEX "webhook_attempts_endpoint" ON "webhook_attempts" USING btree ("endpoint_id","id");--> statement-breakpoint
CREATE UNIQUE INDEX "webhook_deliveries_event" ON "webhook_deliveries" USING btree ("endpoint_id","event_id");--> statement-breakpoint
CREATE INDEX "webhook_deliveries_due" ON "webhook_deliveries" USING btree ("next_attempt_at") WHERE status = 'pending';--> statement-breakpoint
CREATE INDEX "webhook_deliveries_chain" ON "webhook_deliveries" USING btree ("endpoint_id","payment_id","sequence");