-- Access rules (issue 10, authorization): who may publish and subscribe where, managed with plain SQL.
-- With no row at all everything is allowed; once any row exists, what no rule allows is denied.
-- Every replica reads the table again every second (tether.acl.reload-every).
CREATE TABLE mqtt_acl (
    id bigserial PRIMARY KEY,
    username text NULL,
    client_id text NULL,
    action text NOT NULL CHECK (action IN ('publish', 'subscribe', 'all')),
    topic_filter text NOT NULL,
    permission text NOT NULL CHECK (permission IN ('allow', 'deny')),
    priority int NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE mqtt_acl IS 'Access rules: tried by priority (higher first), then id; the first that applies and matches decides';
COMMENT ON COLUMN mqtt_acl.id IS 'Rule number; orders rules of equal priority (lower first)';
COMMENT ON COLUMN mqtt_acl.username IS 'The user the rule applies to; NULL = every user, including anonymous clients';
COMMENT ON COLUMN mqtt_acl.client_id IS 'The Client Identifier the rule applies to; NULL = any';
COMMENT ON COLUMN mqtt_acl.action IS 'publish, subscribe, or all (both)';
COMMENT ON COLUMN mqtt_acl.topic_filter IS 'MQTT topic filter; %u is replaced by the username, %c by the Client Identifier';
COMMENT ON COLUMN mqtt_acl.permission IS 'allow or deny';
COMMENT ON COLUMN mqtt_acl.priority IS 'Higher first; the first matching rule wins';
COMMENT ON COLUMN mqtt_acl.created_at IS 'When the rule was inserted';
CREATE INDEX mqtt_acl_priority ON mqtt_acl (priority DESC, id);
