CREATE TABLE `alerts` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`payment_id` text,
	`severity` text NOT NULL,
	`title` text NOT NULL,
	`details` text NOT NULL,
	`created_at` integer NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`next_attempt_at` integer NOT NULL,
	`delivered_at` integer,
	`last_error` text
);
--> statement-breakpoint
CREATE INDEX `alerts_pending` ON `alerts` (`next_attempt_at`) WHERE delivered_at is null;--> statement-breakpoint
CREATE TABLE `failed_events` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`payment_id` text NOT NULL,
	`step` text NOT NULL,
	`reason` text NOT NULL,
	`status` text NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`resolved_by` text,
	`note` text
);
--> statement-breakpoint
CREATE INDEX `failed_events_status` ON `failed_events` (`status`,`id`);--> statement-breakpoint
CREATE INDEX `failed_events_payment` ON `failed_events` (`payment_id`);--> statement-breakpoint
CREATE TABLE `locks` (
	`name` text PRIMARY KEY NOT NULL,
	`owner` text NOT NULL,
	`expires_at` integer NOT NULL
);
