package dev.tether.routing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Matching table from MQTT 5.0 §4.7 plus edge cases. */
class TopicFilterTest {

    @ParameterizedTest(name = "{0} matches {1}")
    @CsvSource(delimiter = '|', value = {
            // §4.7.1.2 multi-level wildcard
            "sport/tennis/player1/#      | sport/tennis/player1",
            "sport/tennis/player1/#      | sport/tennis/player1/ranking",
            "sport/tennis/player1/#      | sport/tennis/player1/score/wimbledon",
            "sport/#                     | sport",
            "#                           | sport/tennis",
            "#                           | /",
            // §4.7.1.3 single-level wildcard
            "sport/tennis/+              | sport/tennis/player1",
            "sport/tennis/+              | sport/tennis/player2",
            "sport/+                     | sport/",
            "+                           | sport",
            "+/+                         | /finance",
            "/+                          | /finance",
            "+/tennis/#                  | sport/tennis/player1",
            "sport/+/player1             | sport/tennis/player1",
            "a/+/b                       | a//b",
            // §4.7.2 topics beginning with $
            "$SYS/#                      | $SYS/monitor/Clients",
            "$SYS/monitor/+              | $SYS/monitor/Clients",
            "$SYS/#                      | $SYS",
            // literal
            "sport/tennis                | sport/tennis",
            "$share/group/sport/#        | sport/tennis",
    })
    void matches_whenSpecExample_thenTrue(String filter, String topic) {
        assertThat(new TopicFilter(filter).matches(topic)).isTrue();
    }

    @ParameterizedTest(name = "{0} does not match {1}")
    @CsvSource(delimiter = '|', value = {
            "sport/tennis/player1/#      | sport/tennis/player2",
            "sport/tennis/player1/#      | sport/tennis",
            "sport/tennis/+              | sport/tennis/player1/ranking",
            "sport/tennis/+              | sport/tennis",
            "sport/+                     | sport",
            "+                           | /finance",
            "+                           | a/b",
            "/+                          | finance",
            "sport/tennis                | sport/tennis/",
            "sport/tennis                | Sport/tennis",
            "sport/#                     | sports",
            "$share/group/sport/#        | golf",
    })
    void matches_whenSpecCounterExample_thenFalse(String filter, String topic) {
        assertThat(new TopicFilter(filter).matches(topic)).isFalse();
    }

    @Test
    void matches_whenHashAtFirstLevel_thenDollarTopicNotMatched() {
        assertThat(new TopicFilter("#").matches("$SYS/monitor/Clients")).isFalse(); // [MQTT-4.7.2-1]
        assertThat(new TopicFilter("#").matches("$SYS")).isFalse();
    }

    @Test
    void matches_whenPlusAtFirstLevel_thenDollarTopicNotMatched() {
        assertThat(new TopicFilter("+/monitor/Clients").matches("$SYS/monitor/Clients")).isFalse(); // [MQTT-4.7.2-1]
        assertThat(new TopicFilter("+").matches("$SYS")).isFalse();
    }

    @Test
    void matches_whenDollarOnlyInLaterLevel_thenWildcardsMatch() {
        assertThat(new TopicFilter("+/$x").matches("a/$x")).isTrue();
        assertThat(new TopicFilter("#").matches("a/$SYS")).isTrue();
    }

    @Test
    void matches_whenTopicNameInvalid_thenFalse() {
        assertThat(new TopicFilter("#").matches("a/+")).isFalse();
        assertThat(new TopicFilter("#").matches("")).isFalse();
        assertThat(new TopicFilter("#").matches(null)).isFalse();
    }

    @Test
    void constructor_whenInvalidFilter_thenIllegalArgument() {
        assertThatThrownBy(() -> new TopicFilter("sport/tennis#")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new TopicFilter("sport/#/ranking")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new TopicFilter("sport+")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new TopicFilter("")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new TopicFilter(null)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new TopicFilter("$share/g")).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void isShared_whenSharePrefix_thenTrue() {
        assertThat(new TopicFilter("$share/g/a").isShared()).isTrue();
        assertThat(new TopicFilter("a/b").isShared()).isFalse();
    }
}
