ALTER TABLE `payment_events` ADD `feed_position` integer;--> statement-breakpoint
-- Events the fan-out had handed out already keep their order in the feed; the rest get a place when handed out.
UPDATE `payment_events` SET `feed_position` = `position` WHERE `position` <= coalesce((SELECT `position` FROM `cursors` WHERE `name` = 'webhook_fan_out'), 0);--> statement-breakpoint
DROP TABLE `cursors`;--> statement-breakpoint
DROP INDEX `payment_events_type`;--> statement-breakpoint
CREATE UNIQUE INDEX `payment_events_feed` ON `payment_events` (`feed_position`);--> statement-breakpoint
CREATE INDEX `payment_events_feed_type` ON `payment_events` (`type`,`feed_position`);--> statement-breakpoint
CREATE INDEX `payment_events_not_fanned_out` ON `payment_events` (`position`) WHERE feed_position is null;
