DROP INDEX `payments_status`;--> statement-breakpoint
CREATE INDEX `payments_status_created` ON `payments` (`status`,`created_at`,`id`);