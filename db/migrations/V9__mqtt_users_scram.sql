-- SCRAM-SHA-256 credentials for MQTT 5 enhanced authentication (Authentication Method "SCRAM-SHA-256").
-- A bcrypt hash cannot give SCRAM keys, so a user that logs in with SCRAM has them in their own column, in
-- PostgreSQL's pg_authid format, written by the function below:
--   INSERT INTO mqtt_users (username, password_hash, scram_sha256)
--   VALUES ('alice', crypt('secret', gen_salt('bf', 10)), tether_scram_sha256('secret'));
ALTER TABLE mqtt_users ADD COLUMN scram_sha256 text NULL;

COMMENT ON COLUMN mqtt_users.scram_sha256 IS 'SCRAM-SHA-256 credentials, SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey> (base64), e.g. tether_scram_sha256(''secret''); NULL: no SCRAM login (0x86). Secret like the hash: whoever reads it can pose as the server';

-- SCRAM-SHA-256 credentials of a password (RFC 5802 §3, RFC 7677): SaltedPassword = PBKDF2-HMAC-SHA-256(password,
-- salt, iterations), StoredKey = SHA-256(HMAC(SaltedPassword, 'Client Key')), ServerKey = HMAC(SaltedPassword,
-- 'Server Key'). The password is taken as its UTF-8 bytes, without SASLprep normalisation. 4096 iterations (RFC
-- 7677's minimum) take some 10-30 ms of this server's CPU, once per password change.
CREATE FUNCTION tether_scram_sha256(password text, iterations int DEFAULT 4096,
                                    salt bytea DEFAULT gen_random_bytes(16))
RETURNS text
LANGUAGE plpgsql VOLATILE STRICT
SET search_path FROM CURRENT
AS $$
DECLARE
    key bytea := convert_to(password, 'UTF8');
    u bytea;
    acc bit(256);
    salted bytea;
BEGIN
    IF iterations < 1 THEN
        RAISE EXCEPTION 'tether_scram_sha256: iterations must be at least 1 (4096 recommended)';
    END IF;
    IF length(salt) = 0 THEN
        RAISE EXCEPTION 'tether_scram_sha256: the salt must not be empty';
    END IF;
    -- Hi(): U1 = HMAC(password, salt || INT(1)), Ui = HMAC(password, Ui-1), the result the XOR of all Ui.
    u := hmac(salt || '\x00000001'::bytea, key, 'sha256');
    acc := ('x' || encode(u, 'hex'))::bit(256);
    FOR i IN 2..iterations LOOP
        u := hmac(u, key, 'sha256');
        acc := acc # ('x' || encode(u, 'hex'))::bit(256);
    END LOOP;
    SELECT decode(string_agg(lpad(to_hex(substring(acc FROM k * 32 + 1 FOR 32)::int), 8, '0'), '' ORDER BY k), 'hex')
    INTO salted
    FROM generate_series(0, 7) AS k;
    RETURN 'SCRAM-SHA-256$' || iterations || ':' || encode(salt, 'base64') || '$'
        || encode(digest(hmac('Client Key'::bytea, salted, 'sha256'), 'sha256'), 'base64') || ':'
        || encode(hmac('Server Key'::bytea, salted, 'sha256'), 'base64');
END;
$$;

COMMENT ON FUNCTION tether_scram_sha256(text, int, bytea) IS 'SCRAM-SHA-256 credentials of a password for mqtt_users.scram_sha256 (pg_authid format); a random 16-byte salt unless given';

-- Unknown users (and users without scram_sha256) are challenged with a salt derived from their name and this
-- installation's random key, so that the challenge is the same at every attempt, on every replica and after
-- restarts, as a real user's is: it does not tell who exists. One row; keep it (without it SCRAM logins get 0x88).
CREATE TABLE mqtt_scram_mock_key (
    id  boolean PRIMARY KEY DEFAULT true CHECK (id),
    key bytea   NOT NULL DEFAULT gen_random_bytes(32)
);
INSERT INTO mqtt_scram_mock_key DEFAULT VALUES;

COMMENT ON TABLE mqtt_scram_mock_key IS 'One row: the key of the mock SCRAM salts of unknown users (HMAC-SHA-256 of the user name); a new key changes those salts once';
