-- MQTT users: a CONNECT with a User Name is accepted only with the password of an enabled row here.
-- Managed with plain SQL; every replica reads the row at each CONNECT, so a change applies to the next CONNECT.
-- pgcrypto gives crypt()/gen_salt() to write bcrypt hashes in SQL:
--   INSERT INTO mqtt_users (username, password_hash) VALUES ('alice', crypt('secret', gen_salt('bf', 10)));
-- (a trusted extension since PostgreSQL 13: the database owner may create it).
CREATE EXTENSION IF NOT EXISTS pgcrypto;

CREATE TABLE mqtt_users (
    username      text        PRIMARY KEY,
    password_hash text        NOT NULL,
    enabled       boolean     NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

COMMENT ON TABLE mqtt_users IS 'MQTT users allowed to connect with a User Name and Password';
COMMENT ON COLUMN mqtt_users.username IS 'User Name of the CONNECT packet, compared exactly (case-sensitive)';
COMMENT ON COLUMN mqtt_users.password_hash IS 'bcrypt hash ($2a$, $2b$ or $2y$), e.g. crypt(''secret'', gen_salt(''bf'', 10)); changing it refuses the old password at the next CONNECT';
COMMENT ON COLUMN mqtt_users.enabled IS 'false: CONNECTs are refused (0x87 / 5) and live clients are disconnected (DISCONNECT 0x98)';
COMMENT ON COLUMN mqtt_users.created_at IS 'When the row was inserted';
COMMENT ON COLUMN mqtt_users.updated_at IS 'When the row was last changed, if whoever changed it set it; Tether does not read it';
