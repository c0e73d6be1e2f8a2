-- Which network connection holds a session. Every connection gets a fresh identifier at CONNECT; the
-- statements that end a connection (close, a refused CONNECT that committed late) change the row only while
-- it still names that connection, so a late write of an old connection never touches the session of the
-- connection that replaced it.
ALTER TABLE sessions ADD COLUMN connection_id uuid;
COMMENT ON COLUMN sessions.connection_id IS
    'The network connection holding the session (NULL while offline); fences writes of older connections';
UPDATE sessions SET connection_id = gen_random_uuid() WHERE connected;
