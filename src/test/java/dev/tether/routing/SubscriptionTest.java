package dev.tether.routing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatNoException;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class SubscriptionTest {

    @Test
    void constructor_whenValuesAtBounds_thenAccepted() {
        assertThatNoException().isThrownBy(() -> new Subscription("c", "a/#", 0, false, false, 0, 0));
        assertThatNoException().isThrownBy(() -> new Subscription("c", "a/#", 2, true, true, 2, 268_435_455));
    }

    @Test
    void constructor_whenQosOutOfRange_thenIllegalArgument() {
        assertThatThrownBy(() -> new Subscription("c", "a", 3, false, false, 0, 0))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new Subscription("c", "a", -1, false, false, 0, 0))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void constructor_whenRetainHandlingOutOfRange_thenIllegalArgument() {
        assertThatThrownBy(() -> new Subscription("c", "a", 0, false, false, 3, 0))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new Subscription("c", "a", 0, false, false, -1, 0))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void constructor_whenSubscriptionIdentifierOutOfRange_thenIllegalArgument() {
        assertThatThrownBy(() -> new Subscription("c", "a", 0, false, false, 0, 268_435_456))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new Subscription("c", "a", 0, false, false, 0, -1))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void constructor_whenFilterInvalidOrClientIdNull_thenRejected() {
        assertThatThrownBy(() -> new Subscription("c", "a/#/b", 0, false, false, 0, 0))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new Subscription(null, "a", 0, false, false, 0, 0))
                .isInstanceOf(NullPointerException.class);
    }

    @Test
    void constructor_whenNoLocalOnSharedSubscription_thenIllegalArgument() {
        // [MQTT-3.8.3-4] it is a protocol error to set No Local on a shared subscription
        assertThatThrownBy(() -> new Subscription("c", "$share/g/a", 0, true, false, 0, 0))
                .isInstanceOf(IllegalArgumentException.class);
        assertThat(new Subscription("c", "$share/g/a", 0, false, false, 0, 0).isShared()).isTrue();
    }

    @Test
    void matchConstructor_whenListMutatedAfterwards_thenMatchUnchanged() {
        List<Integer> ids = new ArrayList<>(List.of(1, 2));
        Match match = new Match("c", 1, false, ids);
        ids.add(3);
        assertThat(match.subscriptionIdentifiers()).containsExactly(1, 2);
        assertThatThrownBy(() -> match.subscriptionIdentifiers().add(4))
                .isInstanceOf(UnsupportedOperationException.class);
    }

    @Test
    void matchConstructor_whenQosOutOfRange_thenIllegalArgument() {
        assertThatThrownBy(() -> new Match("c", 3, false, List.of())).isInstanceOf(IllegalArgumentException.class);
    }
}
