-- Tether's schema is a public interface: query it with plain SQL.
-- Every time is a timestamptz. A client identifier is the key everywhere.

-- One row per broker process (replica). A broker refreshes heartbeat_at every few seconds;
-- sessions held by an instance whose heartbeat stopped count as disconnected at that heartbeat.
CREATE TABLE broker_instances (
    instance_id   uuid        PRIMARY KEY,
    host_name     text        NOT NULL,
    started_at    timestamptz NOT NULL DEFAULT now(),
    heartbeat_at  timestamptz NOT NULL DEFAULT now(),
    stopped_at    timestamptz
);

-- One row per MQTT session, online or offline.
CREATE TABLE sessions (
    client_id                text        PRIMARY KEY,
    protocol_version         text        NOT NULL CHECK (protocol_version IN ('3.1.1', '5.0')),
    -- true while a network connection holds the session
    connected                boolean     NOT NULL,
    -- the broker instance holding the connection (NULL while offline)
    instance_id              uuid        REFERENCES broker_instances (instance_id) ON DELETE SET NULL,
    created_at               timestamptz NOT NULL DEFAULT now(),
    connected_at             timestamptz NOT NULL DEFAULT now(),
    disconnected_at          timestamptz,
    -- Session Expiry Interval in force, in seconds; 4294967295 means the session never expires
    expiry_interval_seconds  bigint      NOT NULL CHECK (expiry_interval_seconds BETWEEN 0 AND 4294967295),
    -- when the session ends: set at disconnect; NULL while connected or when it never expires
    expires_at               timestamptz,
    -- true when the session outlives its connection (expiry_interval_seconds > 0)
    durable                  boolean     GENERATED ALWAYS AS (expiry_interval_seconds > 0) STORED
);
CREATE INDEX sessions_expires_at_idx ON sessions (expires_at) WHERE expires_at IS NOT NULL;
CREATE INDEX sessions_instance_id_idx ON sessions (instance_id) WHERE instance_id IS NOT NULL;

-- The subscriptions of each session, with their MQTT 5 options.
CREATE TABLE subscriptions (
    client_id                text        NOT NULL REFERENCES sessions (client_id) ON DELETE CASCADE,
    topic_filter             text        NOT NULL,
    qos                      smallint    NOT NULL CHECK (qos BETWEEN 0 AND 2),
    no_local                 boolean     NOT NULL DEFAULT false,
    retain_as_published      boolean     NOT NULL DEFAULT false,
    retain_handling          smallint    NOT NULL DEFAULT 0 CHECK (retain_handling BETWEEN 0 AND 2),
    -- MQTT 5 Subscription Identifier; NULL when the client sent none
    subscription_identifier  integer,
    subscribed_at            timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (client_id, topic_filter)
);
CREATE INDEX subscriptions_topic_filter_idx ON subscriptions (topic_filter);

-- QoS 1 and 2 messages on their way to a session's client: waiting to be sent ('queued'),
-- sent and not yet acknowledged ('sent'), or PUBREC received and PUBREL sent ('released', QoS 2).
CREATE TABLE queued_messages (
    message_id               bigserial   PRIMARY KEY,
    client_id                text        NOT NULL REFERENCES sessions (client_id) ON DELETE CASCADE,
    topic                    text        NOT NULL,
    payload                  bytea       NOT NULL,
    qos                      smallint    NOT NULL CHECK (qos BETWEEN 0 AND 2),
    retain                   boolean     NOT NULL DEFAULT false,
    state                    text        NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'sent', 'released')),
    -- Packet Identifier used towards the client once sent
    packet_id                integer,
    subscription_identifiers integer[]   NOT NULL DEFAULT '{}',
    payload_format_indicator smallint,
    content_type             text,
    response_topic           text,
    correlation_data         bytea,
    -- MQTT 5 User Properties in order, as [{"key": ..., "value": ...}, ...]
    user_properties          jsonb,
    queued_at                timestamptz NOT NULL DEFAULT now(),
    -- from the Message Expiry Interval; NULL when the message does not expire
    expires_at               timestamptz
);
CREATE INDEX queued_messages_client_id_idx ON queued_messages (client_id, message_id);

-- QoS 2 messages received from a session's client: PUBREC sent, PUBREL not yet seen.
CREATE TABLE inbound_qos2_messages (
    client_id    text        NOT NULL REFERENCES sessions (client_id) ON DELETE CASCADE,
    packet_id    integer     NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (client_id, packet_id)
);

-- The Will Message of each session that has one. publish_at is set when the connection closes:
-- the earlier of (close + will_delay_seconds) and the session's end.
CREATE TABLE session_wills (
    client_id                text        PRIMARY KEY REFERENCES sessions (client_id) ON DELETE CASCADE,
    topic                    text        NOT NULL,
    payload                  bytea       NOT NULL,
    qos                      smallint    NOT NULL CHECK (qos BETWEEN 0 AND 2),
    retain                   boolean     NOT NULL DEFAULT false,
    will_delay_seconds       bigint      NOT NULL DEFAULT 0,
    payload_format_indicator smallint,
    content_type             text,
    response_topic           text,
    correlation_data         bytea,
    user_properties          jsonb,
    message_expiry_seconds   bigint,
    publish_at               timestamptz
);
CREATE INDEX session_wills_publish_at_idx ON session_wills (publish_at) WHERE publish_at IS NOT NULL;

-- Retained messages outlive sessions: one per topic.
CREATE TABLE retained_messages (
    topic                    text        PRIMARY KEY,
    payload                  bytea       NOT NULL,
    qos                      smallint    NOT NULL CHECK (qos BETWEEN 0 AND 2),
    payload_format_indicator smallint,
    content_type             text,
    response_topic           text,
    correlation_data         bytea,
    user_properties          jsonb,
    retained_at              timestamptz NOT NULL DEFAULT now(),
    expires_at               timestamptz
);

-- A readable summary: one row per session with its state and queue depth.
CREATE VIEW session_overview AS
SELECT s.client_id,
       s.protocol_version,
       CASE WHEN s.connected THEN 'online' ELSE 'offline' END AS status,
       s.durable,
       s.expiry_interval_seconds,
       s.expires_at,
       s.connected_at,
       s.disconnected_at,
       (SELECT count(*) FROM subscriptions sub WHERE sub.client_id = s.client_id) AS subscription_count,
       (SELECT count(*) FROM queued_messages q WHERE q.client_id = s.client_id)   AS queued_message_count,
       EXISTS (SELECT 1 FROM session_wills w WHERE w.client_id = s.client_id)     AS has_will
FROM sessions s;
