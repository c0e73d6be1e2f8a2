package dev.tether.testing;

/** {@code mqtt_acl} rows tests insert (and delete afterwards: the database is shared by the tests of one profile). */
public final class AclRows {

    /**
     * What an operator inserts for the Paho interoperability suite, whose {@code test_subscribe_failure} expects
     * {@code test/nosubscribe} to be refused: that and {@code secret/#} denied to everyone, everything else allowed.
     */
    public static final String PAHO_SUITE = "INSERT INTO mqtt_acl (username, action, topic_filter, permission, priority) "
            + "VALUES (NULL, 'subscribe', 'test/nosubscribe', 'deny', 10), (NULL, 'subscribe', 'secret/#', 'deny', 10), "
            + "(NULL, 'all', '#', 'allow', 0)";

    private AclRows() {
    }
}
