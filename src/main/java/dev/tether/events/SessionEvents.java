package dev.tether.events;

import io.smallrye.mutiny.Multi;
import io.smallrye.mutiny.Uni;
import io.smallrye.mutiny.operators.multi.processors.UnicastProcessor;
import jakarta.enterprise.context.ApplicationScoped;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

/**
 * The ordered stream of session events. Any thread may publish; exactly one consumer (the store's
 * reconciler) takes them in publication order. Tracks how many events wait so that the listener
 * can stop reading sockets while the database falls behind.
 */
@ApplicationScoped
public class SessionEvents {

    private final UnicastProcessor<PendingEvent> processor = UnicastProcessor.create();
    private final Multi<PendingEvent> stream = processor;
    private final AtomicInteger waiting = new AtomicInteger();
    private final List<DrainListener> drainListeners = new ArrayList<>();

    private record DrainListener(int threshold, Runnable action) {
    }

    /**
     * Publishes an event; the returned {@link Uni} completes with the store's result once the
     * event is committed (or fails if it could not be).
     */
    public <T> Uni<T> publish(SessionEvent event) {
        return committed(submit(event));
    }

    /**
     * Publishes an event and returns it pending: its future completes with the store's result once committed.
     * Whoever no longer wants it written cancels the future ({@code committed().cancel(false)}): the store skips
     * an event cancelled before its transaction starts and undoes a {@code SessionOpening} cancelled too late.
     */
    public PendingEvent submit(SessionEvent event) {
        CompletableFuture<Object> committed = new CompletableFuture<>();
        waiting.incrementAndGet();
        committed.whenComplete((r, f) -> released());
        PendingEvent pending = new PendingEvent(event, committed);
        synchronized (processor) {
            processor.onNext(pending);
        }
        return pending;
    }

    /** The store's result of a submitted event, as a {@link Uni}. */
    @SuppressWarnings("unchecked")
    public static <T> Uni<T> committed(PendingEvent pending) {
        CompletableFuture<T> f = (CompletableFuture<T>) (CompletableFuture<?>) pending.committed();
        return Uni.createFrom().completionStage(() -> f).memoize().indefinitely();
    }

    /**
     * Publishes an event whose commit nobody waits for. The store retries it while PostgreSQL is away; it fails
     * only when it can never be written, which {@code onFailure} hears about (to close the client concerned).
     */
    public void publishAndForget(SessionEvent event, Consumer<Throwable> onFailure) {
        publish(event).subscribe().with(r -> { }, onFailure);
    }

    /** Publishes an event whose commit nobody waits for and whose permanent failure the store has logged. */
    public void publishAndForget(SessionEvent event) {
        publish(event).subscribe().with(r -> { }, f -> { });
    }

    /** The events, in order, for the single consumer. */
    public Multi<PendingEvent> stream() {
        return stream;
    }

    /** Events published and not yet committed. */
    public int waiting() {
        return waiting.get();
    }

    /** Runs {@code listener} once, when the number of waiting events next falls to {@code threshold} or below. */
    public void whenDrainedTo(int threshold, Runnable listener) {
        synchronized (drainListeners) {
            if (waiting.get() > threshold) {
                drainListeners.add(new DrainListener(threshold, listener));
                return;
            }
        }
        listener.run();
    }

    private void released() {
        int now = waiting.decrementAndGet();
        List<Runnable> toRun = new ArrayList<>();
        synchronized (drainListeners) {
            drainListeners.removeIf(l -> {
                if (now <= l.threshold()) {
                    toRun.add(l.action());
                    return true;
                }
                return false;
            });
        }
        toRun.forEach(Runnable::run);
    }

}
