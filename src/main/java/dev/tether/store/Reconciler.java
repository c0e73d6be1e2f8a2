package dev.tether.store;

import dev.tether.config.StoreConfig;
import dev.tether.events.HolderFenced;
import dev.tether.events.PendingEvent;
import dev.tether.events.SessionEvent;
import dev.tether.events.SessionEvent.HolderEvent;
import dev.tether.events.SessionEvent.MessagesQueued;
import dev.tether.events.SessionEvents;
import dev.tether.events.SessionOpened;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.SqlConnection;
import jakarta.annotation.Priority;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Flow;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import org.jboss.logging.Logger;

/**
 * Consumes {@link SessionEvents#stream()} and writes the events to PostgreSQL with group commit:
 * while one transaction runs, new events accumulate, and the next transaction takes all of them
 * (up to {@code tether.store.max-batch-size}), in {@link WriteOrder}. Consecutive events of one kind
 * share one statement. Each event's future completes after its transaction committed; a failed write is
 * retried (see {@link #attempt}), so an event that must reach PostgreSQL reaches it.
 */
@ApplicationScoped
public class Reconciler implements Flow.Subscriber<PendingEvent> {

    private static final Logger LOG = Logger.getLogger(Reconciler.class);

    private final Pool pool;
    private final SessionWriter writer;
    private final SessionEvents events;
    private final int maxBatch;
    private final ArrayDeque<PendingEvent> waiting = new ArrayDeque<>();
    private final AtomicLong transactions = new AtomicLong();
    private final AtomicLong eventsWritten = new AtomicLong();
    private final AtomicLong retries = new AtomicLong();
    private final AtomicLong eventsFailed = new AtomicLong();
    private final Map<String, AtomicLong> fencedWrites = new ConcurrentHashMap<>();

    /** The kinds of event PostgreSQL may refuse by fencing: the holder events, and a message with its receipt. */
    public static final List<String> FENCED_KINDS = Stream.concat(
                    Arrays.stream(HolderEvent.class.getPermittedSubclasses()), Stream.of(MessagesQueued.class))
            .map(Class::getSimpleName).toList();
    private final Clock clock;
    private Flow.Subscription subscription;
    private boolean writing;

    public Reconciler(Pool pool, SessionWriter writer, SessionEvents events, StoreConfig config, Clock clock) {
        this.clock = clock;
        this.pool = pool;
        this.writer = writer;
        this.events = events;
        this.maxBatch = config.maxBatchSize();
    }

    void start(@Observes @Priority(10) StartupEvent ev) {
        events.stream().subscribe().withSubscriber(this);
    }

    /** Events written per transaction, on average, since start. */
    public double meanBatchSize() {
        long t = transactions.get();
        return t == 0 ? 0 : (double) eventsWritten.get() / t;
    }

    public long transactions() {
        return transactions.get();
    }

    /** Events committed since start. */
    public long eventsWritten() {
        return eventsWritten.get();
    }

    @Override
    public void onSubscribe(Flow.Subscription s) {
        this.subscription = s;
        s.request(Long.MAX_VALUE);
    }

    @Override
    public void onNext(PendingEvent item) {
        synchronized (this) {
            waiting.add(item);
            if (writing) {
                return;
            }
            writing = true;
        }
        writeNext();
    }

    @Override
    public void onError(Throwable t) {
        LOG.error("session event stream failed", t);
    }

    @Override
    public void onComplete() {
    }

    private void writeNext() {
        List<PendingEvent> taken = new ArrayList<>();
        synchronized (this) {
            while (!waiting.isEmpty() && taken.size() < maxBatch) {
                taken.add(waiting.poll());
            }
            if (taken.isEmpty()) {
                writing = false;
                return;
            }
        }
        write(taken).subscribe().with(v -> writeNext(), f -> writeNext());
    }

    private Uni<Void> write(List<PendingEvent> batch) {
        return attempt(batch, 1);
    }

    /**
     * One attempt at writing {@code batch} in one transaction. Events cancelled meanwhile are left out. A failure
     * of the database (connection lost, server shutting down, too busy) is retried with back-off for as long as it
     * lasts: nothing after it is written either, so each client's order holds, and the waiting events make the
     * listener stop reading sockets. A failed statement is retried event by event, a few times each; an event
     * that still fails fails its future, so whoever published it can close the client concerned.
     */
    private Uni<Void> attempt(List<PendingEvent> candidates, int attempt) {
        List<PendingEvent> batch = new ArrayList<>(candidates.size());
        for (PendingEvent p : candidates) {
            if (!p.committed().isDone()) {
                batch.add(p); // a cancelled event is done already: nobody wants it written
            }
        }
        if (batch.isEmpty()) {
            return Uni.createFrom().voidItem();
        }
        WriteOrder order = WriteOrder.of(batch);
        List<PendingEvent> written = order.toWrite();
        return pool.withTransaction(tx -> writeRuns(tx, written))
                .invoke(results -> {
                    transactions.incrementAndGet();
                    eventsWritten.addAndGet(batch.size());
                    Map<PendingEvent, Object> outcomes = new IdentityHashMap<>();
                    for (int i = 0; i < written.size(); i++) {
                        outcomes.put(written.get(i), results.get(i));
                        settle(written.get(i), results.get(i));
                    }
                    // A superseded event shares the outcome of the acknowledgement that superseded it.
                    order.supersededBy().forEach((p, by) ->
                            settle(p, outcomes.get(by) == SessionWriter.FENCED ? SessionWriter.FENCED : null));
                })
                .replaceWithVoid()
                .onFailure().recoverWithUni(failure -> {
                    if (WriteFailures.isDatabaseUnavailable(failure)) {
                        retries.incrementAndGet();
                        if (attempt == 1 || attempt % 20 == 0) {
                            LOG.warnf("PostgreSQL unavailable (%s); %d events wait, retrying (attempt %d)",
                                    failure.toString(), events.waiting(), attempt);
                        }
                        return retryAfter(WriteFailures.backOff(attempt), batch, attempt + 1);
                    }
                    if (batch.size() > 1) {
                        // One bad event must not fail its neighbours: write them one by one.
                        LOG.debugf(failure, "batch of %d failed; writing its events one by one", batch.size());
                        Uni<Void> each = Uni.createFrom().voidItem();
                        for (PendingEvent p : batch) {
                            each = each.chain(() -> attempt(List.of(p), 1));
                        }
                        return each;
                    }
                    PendingEvent p = batch.get(0);
                    if (attempt < WriteFailures.STATEMENT_ATTEMPTS) {
                        retries.incrementAndGet();
                        LOG.debugf("writing %s failed (%s); retrying", p.event(), failure.toString());
                        return retryAfter(WriteFailures.backOff(attempt), batch, attempt + 1);
                    }
                    eventsFailed.incrementAndGet();
                    LOG.errorf("writing %s failed %d times, giving up: %s", describe(p.event()), attempt,
                            failure.toString());
                    p.committed().completeExceptionally(failure);
                    return Uni.createFrom().voidItem();
                });
    }

    private Uni<Void> retryAfter(Duration delay, List<PendingEvent> batch, int nextAttempt) {
        return Uni.createFrom().voidItem().onItem().delayIt().by(delay).chain(() -> attempt(batch, nextAttempt));
    }

    /**
     * Completes a committed event's future with its result. An event PostgreSQL refused by fencing
     * ({@link SessionWriter#FENCED}) fails with {@link HolderFenced} instead: the transaction committed, so this is
     * neither retried nor counted as a failed event, but counted in {@link #fencedWrites}.
     */
    private void settle(PendingEvent p, Object result) {
        if (result == SessionWriter.FENCED) {
            String kind = p.event().getClass().getSimpleName();
            fencedWrites.computeIfAbsent(kind, k -> new AtomicLong()).incrementAndGet();
            LOG.debugf("%s refused: the session no longer names its connection", describe(p.event()));
            p.committed().completeExceptionally(new HolderFenced(p.event()));
        } else if (!p.committed().complete(result)) {
            committedAfterCancel(p.event(), result);
        }
    }

    /**
     * An event was written although its publisher had cancelled it meanwhile. A {@code SessionOpening} whose
     * CONNECT was refused (it waited too long) is closed at once, like any connection that ended: the row must
     * not stay connected with nobody holding it.
     */
    private void committedAfterCancel(SessionEvent event, Object result) {
        if (event instanceof SessionEvent.SessionOpening o && result instanceof SessionOpened opened) {
            LOG.infof("session %s was recorded after its CONNECT had been refused; closing it", o.clientId());
            events.publishAndForget(new SessionEvent.SessionClosed(o.clientId(), o.instanceId(), o.connectionId(),
                    clock.instant(), opened.decision().grantedExpiry(), Optional.empty()));
        }
    }

    /** An event for a log line: its kind and client, never its payload. */
    private static String describe(SessionEvent e) {
        return e.getClass().getSimpleName() + (e.clientId() == null ? "" : " of " + e.clientId());
    }

    /** Attempts repeated after a failure, since start. */
    public long retries() {
        return retries.get();
    }

    /**
     * Events of {@code kind} (a {@link SessionEvent} simple name, see {@link #FENCED_KINDS}) that PostgreSQL refused
     * because their session row no longer named their connection, since start (their connections were closed).
     */
    public long fencedWrites(String kind) {
        AtomicLong n = fencedWrites.get(kind);
        return n == null ? 0 : n.get();
    }

    /** Events given up after repeated failures, since start (their clients were closed). */
    public long eventsFailed() {
        return eventsFailed.get();
    }

    private Uni<List<Object>> writeRuns(SqlConnection tx, List<PendingEvent> batch) {
        List<List<SessionEvent>> runs = runs(batch);
        List<Object> results = new ArrayList<>(batch.size());
        Uni<Void> chain = Uni.createFrom().voidItem();
        for (List<SessionEvent> run : runs) {
            chain = chain.chain(() -> writer.write(tx, run).invoke(results::addAll).replaceWithVoid());
        }
        return chain.map(v -> results);
    }

    /**
     * Splits a batch into runs of consecutive events of one kind; a run also ends before an event
     * whose client already appears in it, so each client's events stay in order.
     */
    static List<List<SessionEvent>> runs(List<PendingEvent> batch) {
        List<List<SessionEvent>> runs = new ArrayList<>();
        List<SessionEvent> run = new ArrayList<>();
        Set<String> clients = new HashSet<>();
        for (PendingEvent p : batch) {
            SessionEvent e = p.event();
            boolean sameKind = !run.isEmpty() && run.get(0).getClass() == e.getClass();
            boolean repeat = isPerClientOrdered(e) && clients.contains(e.clientId());
            if (!run.isEmpty() && (!sameKind || repeat)) {
                runs.add(run);
                run = new ArrayList<>();
                clients.clear();
            }
            run.add(e);
            if (e.clientId() != null) {
                clients.add(e.clientId());
            }
        }
        if (!run.isEmpty()) {
            runs.add(run);
        }
        return runs;
    }

    /** Events whose effect depends on the previous event of the same client within a run. */
    private static boolean isPerClientOrdered(SessionEvent e) {
        return e instanceof SessionEvent.SessionOpening || e instanceof SessionEvent.SessionClosed
                || e instanceof SessionEvent.Subscribed || e instanceof SessionEvent.Unsubscribed;
    }

    void stop(@Observes ShutdownEvent ev) {
        LOG.infof("reconciler: %d transactions, mean batch %.1f events", transactions.get(), meanBatchSize());
    }
}
