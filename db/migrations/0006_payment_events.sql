CREATE TABLE `cursors` (
	`name` text PRIMARY KEY NOT NULL,
	`position` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `payment_events` (
	`position` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`id` text NOT NULL,
	`payment_id` text NOT NULL,
	`sequence` integer NOT NULL,
	`type` text NOT NULL,
	`occurred_at` integer NOT NULL,
	`data` text NOT NULL,
	`published_at` integer
);
--> statement-breakpoint
CREATE UNIQUE INDEX `payment_events_id` ON `payment_events` (`id`);--> statement-breakpoint
CREATE UNIQUE INDEX `payment_events_sequence` ON `payment_events` (`payment_id`,`sequence`);--> statement-breakpoint
CREATE INDEX `payment_events_type` ON `payment_events` (`type`,`position`);--> statement-breakpoint
CREATE INDEX `payment_events_unpublished` ON `payment_events` (`position`) WHERE published_at is null;--> statement-breakpoint
CREATE TABLE `webhook_attempts` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`delivery_id` integer NOT NULL,
	`endpoint_id` text NOT NULL,
	`event_id` text NOT NULL,
	`attempt` integer NOT NULL,
	`status` text NOT NULL,
	`response_status` integer,
	`duration_ms` integer NOT NULL,
	`error` text,
	`at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `webhook_attempts_endpoint` ON `webhook_attempts` (`endpoint_id`,`id`);--> statement-breakpoint
CREATE TABLE `webhook_deliveries` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`endpoint_id` text NOT NULL,
	`event_id` text NOT NULL,
	`payment_id` text NOT NULL,
	`sequence` integer NOT NULL,
	`status` text NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`next_attempt_at` integer NOT NULL,
	`claimed_by` text,
	`claimed_until` integer,
	`delivered_at` integer,
	`last_error` text
);
--> statement-breakpoint
CREATE UNIQUE INDEX `webhook_deliveries_event` ON `webhook_deliveries` (`endpoint_id`,`event_id`);--> statement-breakpoint
CREATE INDEX `webhook_deliveries_due` ON `webhook_deliveries` (`next_attempt_at`) WHERE status = 'pending';--> statement-breakpoint
CREATE INDEX `webhook_deliveries_chain` ON `webhook_deliveries` (`endpoint_id`,`payment_id`,`sequence`);--> statement-breakpoint
CREATE TABLE `webhook_endpoints` (
	`id` text PRIMARY KEY NOT NULL,
	`url` text NOT NULL,
	`events` text NOT NULL,
	`description` text,
	`secret` text NOT NULL,
	`disabled` integer DEFAULT 0 NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
PRAGMA foreign_keys=OFF;--> statement-breakpoint
CREATE TABLE `__new_failed_events` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`kind` text DEFAULT 'payment_step' NOT NULL,
	`payment_id` text,
	`step` text NOT NULL,
	`reason` text NOT NULL,
	`status` text NOT NULL,
	`event_id` text,
	`endpoint_id` text,
	`payload` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`resolved_by` text,
	`note` text
);
--> statement-breakpoint
INSERT INTO `__new_failed_events`("id", "kind", "payment_id", "step", "reason", "status", "event_id", "endpoint_id", "payload", "created_at", "updated_at", "resolved_by", "note") SELECT "id", "kind", "payment_id", "step", "reason", "status", NULL, NULL, NULL, "created_at", "updated_at", "resolved_by", "note" FROM `failed_events`;--> statement-breakpoint
DROP TABLE `failed_events`;--> statement-breakpoint
ALTER TABLE `__new_failed_events` RENAME TO `failed_events`;--> statement-breakpoint
PRAGMA foreign_keys=ON;--> statement-breakpoint
CREATE INDEX `failed_events_status` ON `failed_events` (`status`,`id`);--> statement-breakpoint
CREATE INDEX `failed_events_payment` ON `failed_events` (`payment_id`);