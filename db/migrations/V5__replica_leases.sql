-- Leases: several replicas share one PostgreSQL. A replica serves only while it holds its lease:
-- lease_expires_at > now(), and its row is neither fenced nor stopped. It renews the lease with its heartbeat
-- (every tether.store.heartbeat-interval, for tether.store.instance-timeout); a replica whose renewal is refused
-- or that cannot renew in time stops serving and exits. Sessions of an instance whose lease has expired are
-- released by any replica, as disconnected at its last heartbeat.
ALTER TABLE broker_instances
    ADD COLUMN advertised_host  text,
    ADD COLUMN cluster_port     integer CHECK (cluster_port BETWEEN 1 AND 65535),
    ADD COLUMN lease_expires_at timestamptz NOT NULL DEFAULT now(), -- rows of earlier versions: already expired
    ADD COLUMN fenced_at        timestamptz,
    ADD COLUMN fenced_by        uuid;

COMMENT ON COLUMN broker_instances.advertised_host IS
    'Host name or address at which other replicas reach this one (NULL: not announced)';
COMMENT ON COLUMN broker_instances.cluster_port IS
    'Port of this replica''s link to other replicas (NULL: not announced)';
COMMENT ON COLUMN broker_instances.lease_expires_at IS
    'End of the lease: the instance serves only before it (and while fenced_at and stopped_at are NULL); each '
    'heartbeat moves it to now() + tether.store.instance-timeout; past it, any replica releases the instance''s sessions';
COMMENT ON COLUMN broker_instances.fenced_at IS
    'When another replica fenced this one (it stopped answering): the lease is no longer renewed and ends at '
    'lease_expires_at; NULL while not fenced';
COMMENT ON COLUMN broker_instances.fenced_by IS
    'The instance_id of the replica that fenced this one (NULL while not fenced)';
