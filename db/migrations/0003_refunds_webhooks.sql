CREATE TABLE `cancellations` (
	`id` text PRIMARY KEY NOT NULL,
	`payment_id` text NOT NULL,
	`seq` integer NOT NULL,
	`idempotency_key` text NOT NULL,
	`request_fingerprint` text NOT NULL,
	`amount` integer NOT NULL,
	`reason` text NOT NULL,
	`status` text NOT NULL,
	`requested_at` integer NOT NULL,
	`completed_at` integer
);
--> statement-breakpoint
CREATE UNIQUE INDEX `cancellations_key` ON `cancellations` (`payment_id`,`idempotency_key`);--> statement-breakpoint
CREATE TABLE `refund_attempts` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`payment_id` text NOT NULL,
	`cancellation_id` text NOT NULL,
	`at` integer NOT NULL,
	`outcome` text NOT NULL,
	`pg_code` text,
	`message` text
);
--> statement-breakpoint
CREATE INDEX `refund_attempts_cancellation` ON `refund_attempts` (`cancellation_id`);--> statement-breakpoint
CREATE TABLE `webhook_receipts` (
	`id` text PRIMARY KEY NOT NULL,
	`type` text NOT NULL,
	`payment_id` text,
	`received_at` integer NOT NULL
);
--> statement-breakpoint
ALTER TABLE `payment_transitions` ADD `detail` text;