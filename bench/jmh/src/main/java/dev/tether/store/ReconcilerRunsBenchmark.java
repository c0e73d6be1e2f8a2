package dev.tether.store;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import dev.tether.delivery.QueuedMessage;
import dev.tether.events.PendingEvent;
import dev.tether.events.SessionEvent;
import dev.tether.protocol.PublishedMessage;
import dev.tether.routing.Subscription;
import dev.tether.session.ExpiryInterval;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * {@link Reconciler#runs(List)} (package-private, hence this package name): splitting one group-commit batch of
 * {@code batchSize} (default 512) events into runs of one kind per statement. Events come from 200 clients with
 * weights MessageSent 25%, MessageAcknowledged 25%, MessagesQueued 15% (2 recipients each), Subscribed 8%,
 * SessionClosed 8%, Unsubscribed 4%, MessageReleased, InboundQos2Received and InboundQos2Released 5% each.
 * {@code shape=mixed}: each event's kind drawn independently (many short runs, the worst case);
 * {@code shape=bursty}: bursts of 1-32 consecutive events of one kind (as when one client floods, or a
 * fan-out queues many copies). Fixed seed; the batch is built once per trial.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
public class ReconcilerRunsBenchmark {

    static final int CLIENTS = 200;
    static final UUID INSTANCE = new UUID(1, 2);
    static final UUID CONNECTION = new UUID(3, 4);
    static final Instant AT = Instant.parse("2025-01-01T00:00:00Z");

    @Param("512")
    public int batchSize;

    @Param({"mixed", "bursty"})
    public String shape;

    private List<PendingEvent> batch;

    @Setup(Level.Trial)
    public void setUp() {
        SplittableRandom random = new SplittableRandom(7);
        batch = new ArrayList<>(batchSize);
        int kind = 0;
        int burstLeft = 0;
        while (batch.size() < batchSize) {
            if (shape.equals("mixed") || burstLeft == 0) {
                kind = pickKind(random);
                burstLeft = 1 + random.nextInt(32);
            }
            burstLeft--;
            batch.add(new PendingEvent(event(kind, random), new CompletableFuture<>()));
        }
        List<List<SessionEvent>> runs = Reconciler.runs(batch);
        int total = runs.stream().mapToInt(List::size).sum();
        if (total != batchSize) {
            throw new IllegalStateException("runs lost events: " + total + " of " + batchSize);
        }
        System.out.printf("%n[ReconcilerRunsBenchmark] %s batch of %d events -> %d runs%n", shape, batchSize,
                runs.size());
    }

    private static int pickKind(SplittableRandom random) {
        int r = random.nextInt(100);
        if (r < 25) return 0;       // MessageSent
        if (r < 50) return 1;       // MessageAcknowledged
        if (r < 65) return 2;       // MessagesQueued
        if (r < 73) return 3;       // Subscribed
        if (r < 81) return 4;       // SessionClosed
        if (r < 85) return 5;       // Unsubscribed
        if (r < 90) return 6;       // MessageReleased
        if (r < 95) return 7;       // InboundQos2Received
        return 8;                   // InboundQos2Released
    }

    private static SessionEvent event(int kind, SplittableRandom random) {
        String client = "client-" + random.nextInt(CLIENTS);
        long messageId = random.nextLong(1, 1_000_000);
        int packetId = random.nextInt(1, 65_536);
        return switch (kind) {
            case 0 -> new SessionEvent.MessageSent(client, CONNECTION, messageId, packetId);
            case 1 -> new SessionEvent.MessageAcknowledged(client, CONNECTION, messageId);
            case 2 -> {
                PublishedMessage m = new PublishedMessage("site/1/device/2/temperature", new byte[64], 1, false,
                        null, null, client);
                yield new SessionEvent.MessagesQueued(List.of(
                        new QueuedMessage("client-" + random.nextInt(CLIENTS), m, List.of()),
                        new QueuedMessage("client-" + random.nextInt(CLIENTS), m, List.of())));
            }
            case 3 -> new SessionEvent.Subscribed(client, CONNECTION, List.of(new Subscription(client,
                    "site/" + random.nextInt(1000) + "/#", 1, false, false, 0, 0)));
            case 4 -> new SessionEvent.SessionClosed(client, INSTANCE, CONNECTION, AT, ExpiryInterval.ofSeconds(3600),
                    Optional.empty());
            case 5 -> new SessionEvent.Unsubscribed(client, CONNECTION, List.of("site/" + random.nextInt(1000) + "/#"));
            case 6 -> new SessionEvent.MessageReleased(client, CONNECTION, messageId);
            case 7 -> new SessionEvent.InboundQos2Received(client, CONNECTION, packetId);
            default -> new SessionEvent.InboundQos2Released(client, CONNECTION, packetId);
        };
    }

    @Benchmark
    public List<List<SessionEvent>> runs() {
        return Reconciler.runs(batch);
    }
}
