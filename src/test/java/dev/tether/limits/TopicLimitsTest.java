package dev.tether.limits;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Optional;
import org.junit.jupiter.api.Test;

/** tether.limits.max-topic-length (UTF-8 bytes) and max-topic-levels on topic names and filters. */
class TopicLimitsTest {

    private final TopicLimits limits = new TopicLimits(10, 3);

    @Test
    void brokenBy_whenWithinBoth_thenNothing() {
        assertThat(limits.brokenBy("a/b/c")).isEmpty();
        assertThat(limits.brokenBy("0123456789")).isEmpty();
        assertThat(limits.brokenBy("+/#")).isEmpty();
    }

    @Test
    void brokenBy_whenLongerInUtf8Bytes_thenLength() {
        assertThat(limits.brokenBy("01234567890")).isEqualTo(Optional.of(Limit.TOPIC_LENGTH));
        // six characters, twelve bytes
        assertThat(limits.brokenBy("éééééé")).isEqualTo(Optional.of(Limit.TOPIC_LENGTH));
        assertThat(limits.brokenBy("ééééé")).isEmpty();
    }

    @Test
    void brokenBy_whenMoreLevels_thenLevels() {
        assertThat(limits.brokenBy("a/b/c/d")).isEqualTo(Optional.of(Limit.TOPIC_LEVELS));
        assertThat(limits.brokenBy("///")).isEqualTo(Optional.of(Limit.TOPIC_LEVELS)); // four empty levels
    }

    @Test
    void brokenBy_whenShared_thenPrefixNotALevel() {
        TopicLimits wide = new TopicLimits(100, 3);
        assertThat(wide.brokenBy("$share/g/a/b/c")).isEmpty();
        assertThat(wide.brokenBy("$share/g/a/b/c/d")).isEqualTo(Optional.of(Limit.TOPIC_LEVELS));
        assertThat(new TopicLimits(11, 3).brokenBy("$share/g/a/b")).isEqualTo(Optional.of(Limit.TOPIC_LENGTH));
    }
}
