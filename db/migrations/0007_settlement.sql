CREATE TABLE `money_movements` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`payment_id` text NOT NULL,
	`kind` text NOT NULL,
	`amount` integer NOT NULL,
	`at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `money_movements_at` ON `money_movements` (`at`);--> statement-breakpoint
CREATE INDEX `money_movements_payment` ON `money_movements` (`payment_id`);--> statement-breakpoint
CREATE TABLE `partners` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`fee_rate_bps` integer NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `settlement_lines` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`settlement_id` text NOT NULL,
	`payment_id` text NOT NULL,
	`kind` text NOT NULL,
	`amount` integer NOT NULL,
	`fee` integer NOT NULL,
	`at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `settlement_lines_settlement` ON `settlement_lines` (`settlement_id`,`at`);--> statement-breakpoint
CREATE TABLE `settlement_runs` (
	`date` text PRIMARY KEY NOT NULL,
	`state` text NOT NULL,
	`status` text NOT NULL,
	`snapshot` text NOT NULL,
	`machine_version` integer NOT NULL,
	`requests` integer NOT NULL,
	`requested_at` integer NOT NULL,
	`pending` integer NOT NULL,
	`unattributed` text DEFAULT '[]' NOT NULL,
	`due_at` integer,
	`lease_owner` text,
	`lease_expires_at` integer,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `settlement_runs_status` ON `settlement_runs` (`status`);--> statement-breakpoint
CREATE INDEX `settlement_runs_pending` ON `settlement_runs` (`pending`) WHERE pending = 1;--> statement-breakpoint
CREATE TABLE `settlements` (
	`id` text PRIMARY KEY NOT NULL,
	`partner_id` text NOT NULL,
	`date` text NOT NULL,
	`status` text NOT NULL,
	`currency` text NOT NULL,
	`payment_count` integer DEFAULT 0 NOT NULL,
	`gross_amount` integer DEFAULT 0 NOT NULL,
	`refund_count` integer DEFAULT 0 NOT NULL,
	`refund_amount` integer DEFAULT 0 NOT NULL,
	`fee_amount` integer DEFAULT 0 NOT NULL,
	`net_amount` integer DEFAULT 0 NOT NULL,
	`discrepancies` text DEFAULT '[]' NOT NULL,
	`created_at` integer NOT NULL,
	`completed_at` integer
);
--> statement-breakpoint
CREATE UNIQUE INDEX `settlements_partner_date` ON `settlements` (`partner_id`,`date`);--> statement-breakpoint
CREATE INDEX `settlements_date` ON `settlements` (`date`);