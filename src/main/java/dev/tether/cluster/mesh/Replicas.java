package dev.tether.cluster.mesh;

import dev.tether.cluster.Change;
import dev.tether.cluster.Cluster;
import dev.tether.cluster.lease.ClusterAddress;
import dev.tether.cluster.lease.Lease;
import dev.tether.cluster.lease.LeaseStore;
import dev.tether.cluster.link.Links;
import dev.tether.config.ClusterConfig;
import dev.tether.config.MqttConfig;
import dev.tether.config.StoreConfig;
import dev.tether.delivery.ClientConnection;
import dev.tether.delivery.ConnectedClients;
import dev.tether.delivery.RetainedMessages;
import dev.tether.delivery.SessionDirectory;
import dev.tether.events.SessionEvent;
import dev.tether.events.SessionEvents;
import dev.tether.protocol.PublishedMessage;
import dev.tether.routing.SubscriptionIndex;
import dev.tether.store.BrokerInstance;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.smallrye.mutiny.Uni;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.enterprise.context.ApplicationScoped;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.NetworkInterface;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import org.jboss.logging.Logger;

/**
 * This replica's view of the others, over the replica link: who they are (live rows of {@code broker_instances}),
 * which clients they hold, and the changes, forwards and takeovers exchanged with them. See docs/design/replicas.md.
 *
 * <p>Threads: every method may be called from any thread (connections' event loops, links' event loops, jobs);
 * the state is in concurrent maps, and frames to one peer leave in call order per calling thread.
 */
@ApplicationScoped
public class Replicas implements Cluster {

    private static final Logger LOG = Logger.getLogger(Replicas.class);

    static final int CHANGE = 0x10;
    static final int FORWARD = 0x20;
    static final int TAKEOVER = 0x30;
    private static final Duration LINK_RETRY = Duration.ofMillis(100);
    private static final Duration GONE_POLL = Duration.ofMillis(200);

    /**
     * A live replica as PostgreSQL lists it; host and port null while only its HELLO is known.
     *
     * @param sinceNanos when this replica learned of it
     */
    private record Peer(String host, Integer port, long sinceNanos) {
    }

    private final Vertx vertx;
    private final Pool pool;
    private final UUID self;
    private final ClusterConfig config;
    private final StoreConfig store;
    private final MqttConfig mqtt;
    private final ConnectedClients clients;
    private final SessionEvents events;
    private final Clock clock;
    private final RemoteHolders holders;
    private final ChangeApplier applier;
    private final Map<UUID, Peer> peers = new ConcurrentHashMap<>();
    private final Set<UUID> gone = ConcurrentHashMap.newKeySet();
    /** Peers being fenced, with the wait for their lease to run out. */
    private final Map<UUID, CompletableFuture<Void>> settling = new ConcurrentHashMap<>();
    private final MeterRegistry registry;
    /** Per peer: forwards sent, and forwards that could not be sent (link down or congested). */
    private final Map<UUID, Counter> forwardsSent = new ConcurrentHashMap<>();
    private final Map<UUID, Counter> forwardsFailed = new ConcurrentHashMap<>();
    private final Counter forwardsReceived;
    private final Counter forwardsNoConnection;
    private final Counter peersFenced;
    private final LeaseStore leases;
    private final Lease lease;
    private final ClusterAddress address;
    private volatile Links links;
    private volatile long refreshTimer = -1;

    public Replicas(Vertx vertx, Pool pool, BrokerInstance instance, ClusterConfig config, StoreConfig store,
                    MqttConfig mqtt, ConnectedClients clients, SessionEvents events, SubscriptionIndex subscriptions,
                    SessionDirectory sessions, RetainedMessages retained, Clock clock, MeterRegistry registry,
                    LeaseStore leases, Lease lease, ClusterAddress address) {
        this.leases = leases;
        this.lease = lease;
        this.address = address;
        this.vertx = vertx;
        this.pool = pool;
        this.self = instance.id();
        this.config = config;
        this.store = store;
        this.mqtt = mqtt;
        this.clients = clients;
        this.events = events;
        this.clock = clock;
        this.holders = new RemoteHolders(self);
        this.applier = new ChangeApplier(subscriptions, sessions, retained, holders);
        this.registry = registry;
        this.forwardsReceived = registry.counter("tether.cluster.forwards.received", "outcome", "delivered");
        this.forwardsNoConnection = registry.counter("tether.cluster.forwards.received", "outcome", "no-connection");
        this.peersFenced = registry.counter("tether.cluster.peers.fenced");
        Gauge.builder("tether.cluster.peers", peers, Map::size).register(registry);
        Gauge.builder("tether.cluster.remote.clients", holders, RemoteHolders::remoteCount).register(registry);
    }

    // ---- life cycle ------------------------------------------------------------------------------

    /** Binds the link port; completes with the address peers reach this replica at, recorded by {@link #join}. */
    public Uni<Void> listen() {
        links = new Links(vertx, self, config.secret(), mqtt.maxPacketSize() + 65_536, this::admitPeer);
        links.onRequest(CHANGE, (peer, body) -> {
            applier.apply(ClusterCodec.decodeChange(body));
            return CompletableFuture.completedFuture(Buffer.buffer());
        });
        links.onMessage(FORWARD, (peer, body) -> receiveForward(ClusterCodec.decodeForward(body)));
        links.onRequest(TAKEOVER, (peer, body) -> settleTakeover(ClusterCodec.decodeTakeover(body)));
        String host = advertisedHost(config);
        return Uni.createFrom().completionStage(() -> links.listen("0.0.0.0", config.port()).toCompletionStage())
                .invoke(port -> {
                    address.setHost(host);
                    address.setPort(port);
                    LOG.infof("replica link on port %d, advertised as %s:%d", port, host, port);
                })
                .replaceWithVoid();
    }

    /**
     * Records this replica's link address in PostgreSQL, links to every live replica and waits (bounded) until each
     * has accepted this one, so that every change they acknowledge from now on reaches this replica too; then loads
     * which clients the others hold. Runs once registered, before sessions are loaded and the listener opens.
     */
    public Uni<Void> join() {
        return refreshPeers()
                .chain(() -> awaitLinked(System.nanoTime() + config.ackTimeout().multipliedBy(2).toNanos()))
                .chain(() -> pool.preparedQuery("SELECT client_id, instance_id, epoch FROM sessions "
                                + "WHERE connected AND instance_id <> $1")
                        .execute(Tuple.of(self)))
                .invoke(rows -> rows.forEach(r -> holders.hold(r.getString("client_id"), r.getUUID("instance_id"),
                        r.getLong("epoch"))))
                .invoke(() -> refreshTimer = vertx.setPeriodic(store.heartbeatInterval().toMillis(),
                        t -> refreshPeers().subscribe().with(v -> { },
                                f -> LOG.debugf("peer refresh failed: %s", f.toString()))))
                .replaceWithVoid();
    }

    private Uni<Void> awaitLinked(long deadlineNanos) {
        List<UUID> missing = peers.keySet().stream().filter(p -> !links.isLinked(p)).toList();
        if (missing.isEmpty()) {
            return Uni.createFrom().voidItem();
        }
        if (System.nanoTime() > deadlineNanos) {
            LOG.warnf("not linked to replicas %s yet; starting anyway (their changes are fenced if they do not answer)",
                    missing);
            return Uni.createFrom().voidItem();
        }
        return Uni.createFrom().voidItem().onItem().delayIt().by(LINK_RETRY).chain(() -> awaitLinked(deadlineNanos));
    }

    /** Reads the live replicas: links new ones, forgets those gone (stopped, lease lapsed, or fenced). */
    Uni<Void> refreshPeers() {
        long startedNanos = System.nanoTime();
        return leases.livePeers()
                .invoke(rows -> {
                    Set<UUID> live = new HashSet<>();
                    for (LeaseStore.Peer r : rows) {
                        UUID id = r.instanceId();
                        String host = r.advertisedHost();
                        Integer port = r.clusterPort();
                        if (gone.contains(id) || host == null || port == null) {
                            continue; // gone, or no link address: not a replica this one can reach (nor it us)
                        }
                        live.add(id);
                        peers.put(id, new Peer(host, port, startedNanos));
                        if (host != null && port != null) {
                            links.connect(id, host, port);
                        }
                    }
                    peers.forEach((known, p) -> {
                        // Not live any more; a peer whose HELLO came after this query began is judged next time.
                        if (!live.contains(known) && p.sinceNanos() - startedNanos < 0) {
                            peerGone(known);
                        }
                    });
                })
                .replaceWithVoid();
    }

    /** A replica said HELLO on the link: it is a recipient of every change from now on. */
    private boolean admitPeer(UUID peer) {
        if (gone.contains(peer)) {
            return false;
        }
        if (peers.putIfAbsent(peer, new Peer(null, null, System.nanoTime())) == null) {
            refreshPeers().subscribe().with(v -> { }, f -> { });
        }
        return true;
    }

    private void peerGone(UUID peer) {
        if (!gone.add(peer)) {
            return;
        }
        peers.remove(peer);
        holders.dropInstance(peer);
        if (links != null) {
            links.forget(peer);
        }
        LOG.infof("replica %s is gone", peer);
    }

    /** At shutdown, on the main thread: the links close (peers learn from PostgreSQL that this replica stopped). */
    public void close() {
        if (refreshTimer >= 0) {
            vertx.cancelTimer(refreshTimer);
        }
        if (links != null) {
            try {
                // Called on the main thread at shutdown: the port is free again when this returns (tests restart).
                links.close().toCompletionStage().toCompletableFuture().get(2, java.util.concurrent.TimeUnit.SECONDS);
            } catch (Exception e) {
                LOG.debugf("replica links not closed cleanly: %s", e.toString());
            }
        }
    }

    // ---- Cluster ---------------------------------------------------------------------------------

    @Override
    public boolean hasPeers() {
        return !peers.isEmpty();
    }

    @Override
    public CompletionStage<Void> announce(Change change) {
        applyOwn(change);
        if (peers.isEmpty()) {
            return CompletableFuture.completedFuture(null);
        }
        return deliverTo(Set.copyOf(peers.keySet()), ClusterCodec.encode(change), new HashSet<>());
    }

    @Override
    public void tell(Change change) {
        applyOwn(change);
        if (peers.isEmpty()) {
            return;
        }
        Buffer body = ClusterCodec.encode(change);
        for (UUID peer : peers.keySet()) {
            links.request(peer, CHANGE, body.copy(), config.ackTimeout());
        }
    }

    /** This replica's own connections are known to {@link RemoteHolders} too, so stale remote changes lose to them. */
    private void applyOwn(Change change) {
        if (change instanceof Change.HolderChanged h) {
            holders.hold(h.clientId(), h.instanceId(), h.epoch());
        } else if (change instanceof Change.Released r) {
            holders.release(r.clientId(), r.epoch());
        } else if (change instanceof Change.SessionsRemoved r) {
            r.clientIds().forEach(holders::forget);
        }
    }

    /**
     * Sends the change to {@code recipients}; once all have applied it (or are gone), to replicas that appeared
     * meanwhile, until none is left: a replica that joined while the change was on its way gets it too.
     */
    private CompletionStage<Void> deliverTo(Set<UUID> recipients, Buffer body, Set<UUID> done) {
        List<CompletableFuture<Void>> acks = new ArrayList<>();
        for (UUID peer : recipients) {
            if (done.add(peer)) {
                acks.add(applyAt(peer, body.copy(), System.nanoTime() + config.ackTimeout().toNanos()));
            }
        }
        return CompletableFuture.allOf(acks.toArray(CompletableFuture[]::new)).thenCompose(v -> {
            Set<UUID> more = new HashSet<>(peers.keySet());
            more.removeAll(done);
            return more.isEmpty() ? CompletableFuture.completedFuture(null) : deliverTo(more, body, done);
        });
    }

    /** One peer applies the change; if it cannot within the ack timeout, it is fenced and its lease waited out. */
    private CompletableFuture<Void> applyAt(UUID peer, Buffer body, long deadlineNanos) {
        if (!peers.containsKey(peer)) {
            return CompletableFuture.completedFuture(null); // gone meanwhile
        }
        return requestOrFence(peer, CHANGE, body, deadlineNanos);
    }

    /**
     * A request to a peer that completes when it answers; while the peer is not linked (starting, or re-dialing) it is
     * tried again until the deadline; a peer that still does not answer is fenced and its lease waited out.
     */
    private CompletableFuture<Void> requestOrFence(UUID peer, int type, Buffer body, long deadlineNanos) {
        Duration left = Duration.ofNanos(Math.max(1, deadlineNanos - System.nanoTime()));
        return links.request(peer, type, body.copy(), left).toCompletableFuture()
                .<Void>thenApply(reply -> null)
                .exceptionallyCompose(f -> {
                    if (System.nanoTime() < deadlineNanos && !links.isLinked(peer) && peers.containsKey(peer)) {
                        CompletableFuture<Void> retry = new CompletableFuture<>();
                        vertx.setTimer(LINK_RETRY.toMillis(), t -> requestOrFence(peer, type, body, deadlineNanos)
                                .whenComplete((v, e) -> complete(retry, e)));
                        return retry;
                    }
                    return settleUnreachable(peer);
                });
    }

    private static void complete(CompletableFuture<Void> f, Throwable failure) {
        if (failure == null) {
            f.complete(null);
        } else {
            f.completeExceptionally(failure);
        }
    }

    /**
     * A peer that does not answer is fenced in PostgreSQL (its lease can no longer be renewed) and then treated as
     * gone once PostgreSQL says its lease has lapsed: by then it has stopped serving, so nothing it does can miss a
     * change this replica acknowledges.
     */
    private CompletableFuture<Void> settleUnreachable(UUID peer) {
        if (!peers.containsKey(peer)) {
            return CompletableFuture.completedFuture(null); // found gone meanwhile
        }
        // Every change waiting for this peer shares one fencing.
        return settling.computeIfAbsent(peer, this::fenceAndWait);
    }

    private CompletableFuture<Void> fenceAndWait(UUID peer) {
        LOG.warnf("replica %s does not answer on the link; fencing it and waiting out its lease", peer);
        return leases.fence(peer)
                .onFailure().retry().withBackOff(GONE_POLL, Duration.ofSeconds(1)).atMost(20)
                .chain(outcome -> {
                    if (outcome instanceof LeaseStore.FenceOutcome.SelfLost) {
                        lease.lose("fenced by another replica");
                        return Uni.createFrom().<Void>failure(new IllegalStateException("this replica lost its lease"));
                    }
                    if (outcome instanceof LeaseStore.FenceOutcome.Fenced f) {
                        peersFenced.increment();
                        // Its local lease ends before PostgreSQL's (by the margin): wait out PostgreSQL's, plus one.
                        return Uni.createFrom().voidItem().onItem().delayIt()
                                .by(f.waitFor().plus(Lease.margin(store.instanceTimeout())));
                    }
                    return Uni.createFrom().voidItem(); // stopped, or its lease had already run out
                })
                .invoke(() -> peerGone(peer))
                .onTermination().invoke(() -> settling.remove(peer))
                .subscribeAsCompletionStage();
    }

    @Override
    public Optional<UUID> remoteHolderOf(String clientId) {
        return holders.remoteHolderOf(clientId);
    }

    @Override
    public boolean forward(UUID replica, String clientId, PublishedMessage message, int qos,
                           List<Integer> subscriptionIds, long messageId) {
        boolean sent = links != null && links.send(replica, FORWARD,
                ClusterCodec.encode(new ClusterCodec.Forward(clientId, message, qos, subscriptionIds, messageId)));
        (sent ? forwardsSent : forwardsFailed).computeIfAbsent(replica, peer -> registry.counter(
                sent ? "tether.cluster.forwards.sent" : "tether.cluster.forwards.failed", "peer", peer.toString()))
                .increment();
        return sent;
    }

    private void receiveForward(ClusterCodec.Forward f) {
        Optional<ClientConnection> c = clients.get(f.clientId());
        if (c.isPresent()) {
            forwardsReceived.increment();
            c.get().deliver(f.message(), f.qos(), f.subscriptionIds(), f.messageId());
        } else {
            forwardsNoConnection.increment(); // a stored copy waits in PostgreSQL for the client's next session
        }
    }

    @Override
    public CompletionStage<Void> takeOver(UUID replica, String clientId, UUID connectionId, boolean newCleanStart) {
        if (links == null) {
            return CompletableFuture.completedFuture(null);
        }
        long deadline = System.nanoTime() + config.ackTimeout().toNanos();
        return requestOrFence(replica, TAKEOVER,
                ClusterCodec.encode(new ClusterCodec.TakeoverRequest(clientId, connectionId, newCleanStart)), deadline);
    }

    /**
     * Another replica's CONNECT takes one of this replica's clients over: the connection settles exactly as for a
     * local takeover (will decided, DISCONNECT 0x8E, nothing more written), leaves this replica, and the answer goes
     * back once every event it published is committed (a barrier through the reconciler), so that the new holder
     * reads its final state.
     */
    private CompletionStage<Buffer> settleTakeover(ClusterCodec.TakeoverRequest t) {
        Optional<ClientConnection> c = clients.get(t.clientId())
                .filter(conn -> conn.connectionId().equals(t.connectionId()));
        CompletionStage<Void> settled = c.isEmpty() ? CompletableFuture.completedFuture(null)
                : c.get().takeOver(t.newCleanStart()).thenRun(() -> clients.unregister(t.clientId(), c.get()));
        return settled.thenCompose(v -> events.publish(
                                new SessionEvent.SessionTakenOver(t.clientId(), self, clock.instant()))
                        .subscribeAsCompletionStage())
                .thenApply(v -> Buffer.buffer());
    }

    /**
     * How peers reach this replica: {@code tether.cluster.advertised-host}; by default the first non-loopback address
     * when a secret is set, else loopback (without a secret only loopback peers may link, so replicas share one host).
     * A non-loopback address without a secret fails start-up: peers could never link, and would fence each other.
     */
    static String advertisedHost(ClusterConfig config) {
        boolean secret = config.secret().filter(x -> !x.isEmpty()).isPresent();
        String host = config.advertisedHost().orElseGet(() -> secret ? firstNonLoopbackAddress() : "127.0.0.1");
        if (!secret && !isLoopback(host)) {
            throw new IllegalStateException("tether.cluster.advertised-host is " + host + " but tether.cluster.secret "
                    + "is not set: replicas on other hosts need the shared secret to link (set TETHER_CLUSTER_SECRET)");
        }
        return host;
    }

    private static boolean isLoopback(String host) {
        try {
            return InetAddress.getByName(host).isLoopbackAddress();
        } catch (Exception e) {
            return false;
        }
    }

    /** The first non-loopback IPv4 address of an interface that is up; loopback if there is none. */
    static String firstNonLoopbackAddress() {
        try {
            for (NetworkInterface nic : Collections.list(NetworkInterface.getNetworkInterfaces())) {
                if (!nic.isUp() || nic.isLoopback()) {
                    continue;
                }
                for (InetAddress a : Collections.list(nic.getInetAddresses())) {
                    if (a instanceof Inet4Address && !a.isLoopbackAddress() && !a.isLinkLocalAddress()) {
                        return a.getHostAddress();
                    }
                }
            }
        } catch (Exception e) {
            LOG.debugf("no network interfaces: %s", e.toString());
        }
        return "127.0.0.1";
    }
}
