-- The expiry job purges messages whose Message Expiry Interval passed, earliest first, in bounded batches:
-- never-sent queued messages and retained messages. Partial indexes: most messages never expire.
-- expires_at never changes after insert, so these indexes do not stand in the way of HOT updates of state.
CREATE INDEX queued_messages_expires_at_idx ON queued_messages (expires_at) WHERE expires_at IS NOT NULL;
CREATE INDEX retained_messages_expires_at_idx ON retained_messages (expires_at) WHERE expires_at IS NOT NULL;
