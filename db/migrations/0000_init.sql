CREATE TABLE `fulfilments` (
	`payment_id` text PRIMARY KEY NOT NULL,
	`customer_id` text NOT NULL,
	`items` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `payment_transitions` (
	`payment_id` text NOT NULL,
	`seq` integer NOT NULL,
	`type` text NOT NULL,
	`from_state` text,
	`to_state` text NOT NULL,
	`at` integer NOT NULL,
	PRIMARY KEY(`payment_id`, `seq`)
);
--> statement-breakpoint
CREATE TABLE `payments` (
	`id` text PRIMARY KEY NOT NULL,
	`idempotency_key` text NOT NULL,
	`request_fingerprint` text NOT NULL,
	`customer_id` text NOT NULL,
	`partner_id` text NOT NULL,
	`amount` integer NOT NULL,
	`cancelled_amount` integer DEFAULT 0 NOT NULL,
	`currency` text NOT NULL,
	`items` text NOT NULL,
	`order_name` text NOT NULL,
	`billing_key` text NOT NULL,
	`metadata` text,
	`state` text NOT NULL,
	`status` text NOT NULL,
	`failure_code` text,
	`snapshot` text NOT NULL,
	`machine_version` integer NOT NULL,
	`due_at` integer,
	`charges_started` integer DEFAULT 0 NOT NULL,
	`lease_owner` text,
	`lease_expires_at` integer,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `payments_idempotency_key` ON `payments` (`idempotency_key`);--> statement-breakpoint
CREATE INDEX `payments_created` ON `payments` (`created_at`,`id`);--> statement-breakpoint
CREATE INDEX `payments_customer_created` ON `payments` (`customer_id`,`created_at`,`id`);--> statement-breakpoint
CREATE INDEX `payments_status` ON `payments` (`status`);--> statement-breakpoint
CREATE INDEX `payments_due` ON `payments` (`due_at`) WHERE due_at is not null;--> statement-breakpoint
CREATE TABLE `products` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`price` integer NOT NULL,
	`currency` text DEFAULT 'KRW' NOT NULL,
	`stock` integer NOT NULL,
	`partner_id` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `stock_reservations` (
	`payment_id` text NOT NULL,
	`product_id` text NOT NULL,
	`quantity` integer NOT NULL,
	`status` text NOT NULL,
	`created_at` integer NOT NULL,
	`released_at` integer,
	PRIMARY KEY(`payment_id`, `product_id`)
);
--> statement-breakpoint
CREATE INDEX `reservations_product` ON `stock_reservations` (`product_id`,`status`);