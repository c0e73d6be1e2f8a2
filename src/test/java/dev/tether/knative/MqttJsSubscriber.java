package dev.tether.knative;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.json.JsonObject;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * An MQTT.js subscriber ({@code src/test/js/subscriber.js}, run with node) with a persistent session over
 * WebSocket: Clean Start 0 and a Session Expiry Interval on every CONNECT, reconnecting after every cut. Reads the
 * JSON lines it prints (connect, subscribed, message, close, error).
 */
final class MqttJsSubscriber implements AutoCloseable {

    static final Path DIR = Path.of("src", "test", "js");
    private static final Duration INSTALL_WAIT = Duration.ofMinutes(3);

    private final Process process;
    private final List<JsonObject> events = Collections.synchronizedList(new ArrayList<>());

    private MqttJsSubscriber(Process process) {
        this.process = process;
        Thread reader = new Thread(this::read, "mqttjs-" + process.pid());
        reader.setDaemon(true);
        reader.start();
    }

    /** {@code npm ci} in {@code src/test/js} unless {@code node_modules/mqtt} is there already. */
    static synchronized void install() throws Exception {
        if (Files.isDirectory(DIR.resolve("node_modules").resolve("mqtt"))) {
            return;
        }
        Path log = Path.of("target", "npm-ci.log");
        Files.createDirectories(log.getParent());
        Process npm = new ProcessBuilder("npm", "ci", "--no-audit", "--no-fund").directory(DIR.toFile())
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        assertThat(npm.waitFor(INSTALL_WAIT.toSeconds(), TimeUnit.SECONDS)).as("npm ci done within %s", INSTALL_WAIT)
                .isTrue();
        assertThat(npm.exitValue()).as("npm ci exit status (log: %s):%n%s", log, Files.readString(log)).isZero();
    }

    /** Starts the subscriber; it connects at once and subscribes at QoS 1 to {@code filter} on its first connection. */
    static MqttJsSubscriber start(String url, String clientId, String filter, long sessionExpirySeconds,
                                  Duration maxRuntime) throws Exception {
        install();
        Path stderr = Path.of("target", "mqttjs-" + clientId + ".err");
        Process p = new ProcessBuilder("node", "subscriber.js", url, clientId, filter,
                Long.toString(sessionExpirySeconds), Long.toString(maxRuntime.toSeconds()))
                .directory(DIR.toFile()).redirectError(stderr.toFile()).start();
        return new MqttJsSubscriber(p);
    }

    private void read() {
        try (BufferedReader lines = new BufferedReader(new InputStreamReader(process.getInputStream(),
                StandardCharsets.UTF_8))) {
            String line;
            while ((line = lines.readLine()) != null) {
                events.add(new JsonObject(line));
            }
        } catch (IOException e) {
            // the process ended
        }
    }

    /** Events of one kind ({@code connect}, {@code subscribed}, {@code message}, {@code close}, {@code error}), in order. */
    List<JsonObject> events(String kind) {
        synchronized (events) {
            return events.stream().filter(e -> kind.equals(e.getString("event"))).toList();
        }
    }

    /** Sends DISCONNECT and waits for node to exit (at most 10 s, then it is killed). */
    @Override
    public void close() throws Exception {
        if (process.isAlive()) {
            try (OutputStream in = process.getOutputStream()) {
                in.write("stop\n".getBytes(StandardCharsets.UTF_8));
            } catch (IOException e) {
                // exited meanwhile
            }
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.destroyForcibly();
            }
        }
    }
}
