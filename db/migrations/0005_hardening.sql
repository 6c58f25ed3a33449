ALTER TABLE `cancellations` ADD `pg_calls` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `failed_events` ADD `kind` text DEFAULT 'payment_step' NOT NULL;--> statement-breakpoint
ALTER TABLE `payments` ADD `active` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE INDEX `payments_active` ON `payments` (`updated_at`) WHERE active = 1;--> statement-breakpoint
ALTER TABLE `webhook_receipts` ADD `status` text DEFAULT 'done' NOT NULL;--> statement-breakpoint
ALTER TABLE `webhook_receipts` ADD `claimed_until` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
-- Payments mid-step before this column existed: in flight and not waiting for a timer.
UPDATE `payments` SET `active` = 1 WHERE `status` IN ('processing', 'cancel_requested') AND `due_at` IS NULL;