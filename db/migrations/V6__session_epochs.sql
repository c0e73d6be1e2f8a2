-- Replicas (issue 9): which connection of a session is the newest, across replicas.
-- Every opening of a session (a CONNECT accepted on any replica) takes the next value of session_epochs.
-- Replicas tag what they announce about a client with the epoch of the connection that did it, and ignore
-- announcements older than the connection they know: a taken-over connection never undoes its successor's state.
-- (PostgreSQL itself fences a taken-over connection's writes with sessions.connection_id.)
CREATE SEQUENCE session_epochs;
ALTER TABLE sessions ADD COLUMN epoch bigint NOT NULL DEFAULT nextval('session_epochs');
COMMENT ON COLUMN sessions.epoch IS 'Grows with every opening of the session (CONNECT accepted), on any replica';
