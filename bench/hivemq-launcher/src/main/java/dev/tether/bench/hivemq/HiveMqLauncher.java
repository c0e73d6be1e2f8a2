package dev.tether.bench.hivemq;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import com.hivemq.embedded.EmbeddedHiveMQ;

/**
 * Starts HiveMQ CE (embedded, same JVM flags as Tether) for the benchmark.
 *
 * <p>Usage: {@code java -Xms1g -Xmx1g -jar hivemq-launcher.jar <work-dir> <port> [max-queued-messages]}.
 * Writes {@code <work-dir>/conf/config.xml} (TCP listener on 127.0.0.1:port, file persistence, queue limit
 * as Tether's 10000 with discard of the newest, no usage statistics), keeps data in
 * {@code <work-dir>/data}, prints {@code HIVEMQ READY} once the listener is up and stops cleanly on
 * SIGTERM/SIGINT.
 */
public final class HiveMqLauncher {

    private HiveMqLauncher() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length < 2) {
            System.err.println("usage: HiveMqLauncher <work-dir> <port> [max-queued-messages]");
            System.exit(2);
        }
        Path work = Path.of(args[0]).toAbsolutePath();
        int port = Integer.parseInt(args[1]);
        int maxQueued = args.length > 2 ? Integer.parseInt(args[2]) : 10_000;
        Path conf = Files.createDirectories(work.resolve("conf"));
        Path data = Files.createDirectories(work.resolve("data"));
        Path ext = Files.createDirectories(work.resolve("extensions"));
        Files.createDirectories(work.resolve("log"));
        System.setProperty("hivemq.log.folder", work.resolve("log").toString());
        Files.writeString(conf.resolve("config.xml"), """
                <?xml version="1.0"?>
                <hivemq>
                    <listeners>
                        <tcp-listener>
                            <port>%d</port>
                            <bind-address>127.0.0.1</bind-address>
                        </tcp-listener>
                    </listeners>
                    <mqtt>
                        <queued-messages>
                            <max-queue-size>%d</max-queue-size>
                            <strategy>discard</strategy>
                        </queued-messages>
                    </mqtt>
                    <persistence>
                        <mode>file</mode>
                    </persistence>
                    <anonymous-usage-statistics>
                        <enabled>false</enabled>
                    </anonymous-usage-statistics>
                </hivemq>
                """.formatted(port, maxQueued));

        EmbeddedHiveMQ hivemq = EmbeddedHiveMQ.builder()
                .withConfigurationFolder(conf)
                .withDataFolder(data)
                .withExtensionsFolder(ext)
                .build();
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                hivemq.stop().get(30, TimeUnit.SECONDS);
                hivemq.close();
            } catch (Exception e) {
                System.err.println("HiveMQ stop failed: " + e);
            } finally {
                stopped.countDown();
            }
        }, "hivemq-stop"));
        hivemq.start().get(120, TimeUnit.SECONDS);
        System.out.println("HIVEMQ READY pid=" + ProcessHandle.current().pid() + " port=" + port);
        System.out.flush();
        stopped.await();
    }
}
