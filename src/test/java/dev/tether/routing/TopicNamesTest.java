package dev.tether.routing;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

class TopicNamesTest {

    @ParameterizedTest
    @ValueSource(strings = {"a", "/", "a/b", "/finance", "sport/tennis/player1", "$SYS/monitor", "a//b", " ", "ü/€/😀"})
    void isValidTopicName_whenWellFormed_thenTrue(String name) {
        assertThat(TopicNames.isValidTopicName(name)).isTrue();
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "+", "#", "a/+", "a/#", "sport+", "a\u0000b", "\uD800", "a\uDC00"})
    void isValidTopicName_whenEmptyWildcardNulCharOrLoneSurrogate_thenFalse(String name) {
        assertThat(TopicNames.isValidTopicName(name)).isFalse();
    }

    @Test
    void isValidTopicName_whenNull_thenFalse() {
        assertThat(TopicNames.isValidTopicName(null)).isFalse();
    }

    @Test
    void isValidTopicName_whenUtf8LengthAtLimit_thenTrue() {
        assertThat(TopicNames.isValidTopicName("a".repeat(65_535))).isTrue();
    }

    @Test
    void isValidTopicName_whenUtf8LengthOverLimit_thenFalse() {
        assertThat(TopicNames.isValidTopicName("a".repeat(65_536))).isFalse();
        // 21846 * 3 bytes = 65538 bytes although only 21846 chars
        assertThat(TopicNames.isValidTopicName("€".repeat(21_846))).isFalse();
        assertThat(TopicNames.isValidTopicName("€".repeat(21_845))).isTrue();
    }

    @ParameterizedTest
    @ValueSource(strings = {"#", "+", "a", "/", "sport/#", "sport/tennis/+", "+/tennis/#", "+/+", "/+", "+/",
            "sport/+/player1", "$SYS/#", "a//b", "$share", "$share/group/a/b", "$share/g/#", "$share/g/+/x",
            "$sharex/a"})
    void isValidTopicFilter_whenWellFormed_thenTrue(String filter) {
        assertThat(TopicNames.isValidTopicFilter(filter)).isTrue();
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "sport/tennis#", "sport/tennis/#/ranking", "#/a", "sport+", "sport/+a", "a+/b",
            "a/#b", "##", "++", "a\u0000", "$share/", "$share/group", "$share//a", "$share/g+/a",
            "$share/g#/a", "$share/+/a", "$share/g/", "$share/g/a#", "\uDBFF"})
    void isValidTopicFilter_whenMalformed_thenFalse(String filter) {
        assertThat(TopicNames.isValidTopicFilter(filter)).isFalse();
    }

    @Test
    void isValidTopicFilter_whenNullOrTooLong_thenFalse() {
        assertThat(TopicNames.isValidTopicFilter(null)).isFalse();
        assertThat(TopicNames.isValidTopicFilter("a".repeat(65_536))).isFalse();
        assertThat(TopicNames.isValidTopicFilter("a".repeat(65_535))).isTrue();
    }

    @Test
    void isShared_whenSharePrefix_thenTrue() {
        assertThat(TopicNames.isShared("$share/g/a")).isTrue();
        assertThat(TopicNames.isShared("$share")).isFalse();
        assertThat(TopicNames.isShared("$SHARE/g/a")).isFalse();
        assertThat(TopicNames.isShared("a/$share/g")).isFalse();
        assertThat(TopicNames.isShared(null)).isFalse();
    }
}
