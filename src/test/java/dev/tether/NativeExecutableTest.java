package dev.tether;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** The flag that keeps the embedded PostgreSQL out of the native image (checked by deploy/native/check.sh). */
class NativeExecutableTest {

    @Test
    void running_onTheJvm_isFalse_soTheEmbeddedPostgresStarts() {
        assertThat(NativeExecutable.RUNNING).isFalse();
    }

    @Test
    void nativeImageProperties_initialiseTheFlagAtBuildTime_soTheBuilderFoldsIt() throws IOException {
        try (InputStream in = getClass().getResourceAsStream("/META-INF/native-image/dev.tether/tether/native-image.properties")) {
            assertThat(in).isNotNull();
            assertThat(new String(in.readAllBytes(), StandardCharsets.UTF_8))
                    .contains("--initialize-at-build-time=" + NativeExecutable.class.getName());
        }
    }
}
