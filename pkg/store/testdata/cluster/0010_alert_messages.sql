ALTER TABLE settle.alerts_local ON CLUSTER settlemon ADD COLUMN annotation_messages String DEFAULT '';

ALTER TABLE settle.alerts ON CLUSTER settlemon_all ADD COLUMN annotation_messages String DEFAULT '';
