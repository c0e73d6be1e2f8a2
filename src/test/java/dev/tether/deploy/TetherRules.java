package dev.tether.deploy;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * What Tether needs from its manifests beyond what Knative and Kubernetes accept (README, Deployment). Each rule is
 * one method; a rule's name starts with {@code tether/}.
 */
final class TetherRules {

    /** The datasource: all four from a Secret. */
    static final List<String> DATASOURCE_KEYS = List.of("quarkus.datasource.reactive.url",
            "quarkus.datasource.jdbc.url", "quarkus.datasource.username", "quarkus.datasource.password");
    static final String CLUSTER_SECRET = "tether.cluster.secret";
    static final String READINESS_PATH = "/q/health/ready";
    /** The ports a Kubernetes pod of Tether declares, by name, and the key each must equal. */
    static final Map<String, String> KUBERNETES_PORTS = orderedMap(
            "mqtt", "tether.mqtt.port", "mqtts", "tether.mqtt.tls-port", "http", "quarkus.http.port",
            "cluster", "tether.cluster.port");

    private final ConfigKeys keys;
    private final List<Manifest> all;

    TetherRules(ConfigKeys keys, List<Manifest> all) {
        this.keys = keys;
        this.all = all;
    }

    void checkKnativeService(Manifest service, Findings f) {
        Map<String, Object> spec = Node.map(service.body(), "spec", "template", "spec");
        Map<String, Object> annotations = Node.map(service.body(), "spec", "template", "metadata", "annotations");
        String path = "spec.template.spec";
        List<Object> containers = Node.list(spec.get("containers"));
        revisionTimeouts(spec, path, f);
        noHardConcurrencyLimit(spec, path, f);
        for (int i = 0; i < containers.size(); i++) {
            String at = path + ".containers[" + i + "]";
            containerNamed(Node.map(containers.get(i)), at, f);
            envNamesAreKeys(ContainerEnv.of(Node.map(containers.get(i)), at, all), f);
        }
        int user = servingContainer(containers);
        Map<String, Object> container = Node.map(containers.isEmpty() ? null : containers.get(user));
        String at = path + ".containers[" + user + "]";
        ContainerEnv env = ContainerEnv.of(container, at, all);
        websocketPort(containers, env, path, f);
        concurrencyTargetInConnections(annotations, env, "spec.template.metadata.annotations", f);
        readinessOnHealth(container, at, f);
        databaseFromSecret(env, at, f);
        if (maxScale(annotations) != 1) {
            clusterSecretFromSecret(env, at, f);
        }
        clusterPortFree(env, KnativeRules.servingPort(containers).containerPort(), at, f);
        noAnonymousBehindQueueProxy(env, at, f);
        instanceStateOnVolume(container, env, at, f);
    }

    /** The container Knative routes requests to: the one that declares the port (else the first). */
    private static int servingContainer(List<Object> containers) {
        for (int i = 0; i < containers.size(); i++) {
            if (!Node.list(Node.map(containers.get(i)).get("ports")).isEmpty()) {
                return i;
            }
        }
        return 0;
    }

    void checkDeployment(Manifest deployment, Findings f) {
        Map<String, Object> pod = Node.map(deployment.body(), "spec", "template", "spec");
        List<Object> containers = Node.list(pod.get("containers"));
        for (int i = 0; i < containers.size(); i++) {
            Map<String, Object> container = Node.map(containers.get(i));
            String at = "spec.template.spec.containers[" + i + "]";
            ContainerEnv env = ContainerEnv.of(container, at, all);
            containerNamed(container, at, f);
            portsAreTethers(container, env, at, f);
            listenersReachable(env, at, f);
            readinessOnHealth(container, at, f);
            envNamesAreKeys(env, f);
            databaseFromSecret(env, at, f);
            if (Node.integer(Node.map(deployment.body(), "spec").get("replicas")).orElse(1) > 1) {
                clusterSecretFromSecret(env, at, f);
            }
            instanceStateOnVolume(container, env, at, f);
        }
    }

    static void checkService(Manifest service, Findings f) {
        mqttExposed(service, f);
    }

    /**
     * Knative cuts every request, WebSockets included, at timeoutSeconds, and at responseStartTimeoutSeconds too
     * (knative/serving#16169): unset, the latter defaults to 300 s when timeoutSeconds is larger. Both explicit and
     * equal; no idle timeout (an MQTT connection may be quiet for its whole keep-alive).
     */
    static void revisionTimeouts(Map<String, Object> spec, String path, Findings f) {
        OptionalLong timeout = Node.integer(spec.get("timeoutSeconds"));
        if (timeout.isEmpty() || timeout.getAsLong() <= 0) {
            f.fail(path + ".timeoutSeconds", "tether/revision-timeout",
                    "set it explicitly (the longest a WebSocket lives; 600 is Knative's default maximum)");
        }
        OptionalLong responseStart = Node.integer(spec.get("responseStartTimeoutSeconds"));
        if (responseStart.isEmpty() || !responseStart.equals(timeout)) {
            f.fail(path + ".responseStartTimeoutSeconds", "tether/response-start-timeout",
                    "set it equal to timeoutSeconds (" + spec.get("timeoutSeconds") + "), got "
                            + spec.get("responseStartTimeoutSeconds") + ": otherwise WebSockets are cut at 300 s"
                            + " (knative/serving#16169)");
        }
        if (Node.integer(spec.get("idleTimeoutSeconds")).orElse(0) != 0) {
            f.fail(path + ".idleTimeoutSeconds", "tether/no-idle-timeout",
                    "unset or 0: a quiet MQTT connection is not idle");
        }
    }

    /** A hard limit would make the activator queue new WebSockets behind open ones: containerConcurrency 0. */
    static void noHardConcurrencyLimit(Map<String, Object> spec, String path, Findings f) {
        if (!Node.integer(spec.get("containerConcurrency")).equals(OptionalLong.of(0))) {
            f.fail(path + ".containerConcurrency", "tether/container-concurrency",
                    "set 0 (a soft target scales instead), got " + spec.get("containerConcurrency"));
        }
    }

    static void containerNamed(Map<String, Object> container, String path, Findings f) {
        if (Node.string(container.get("name")).isBlank()) {
            f.fail(path + ".name", "tether/container-named", "name the container (tether)");
        }
    }

    /** MQTT over WebSocket needs HTTP/1.1 upgrades (h2c would break it) on the port Tether's HTTP server has. */
    void websocketPort(List<Object> containers, ContainerEnv env, String path, Findings f) {
        List<Map<String, Object>> ports = containers.stream().flatMap(c -> Node.list(Node.map(c).get("ports")).stream())
                .map(Node::map).toList();
        String httpPort = env.valueOf("quarkus.http.port", keys).orElse("8080");
        if (ports.size() != 1 || !"http1".equals(ports.get(0).get("name"))
                || !String.valueOf(ports.get(0).get("containerPort")).equals(httpPort)) {
            f.fail(path + ".containers[*].ports", "tether/websocket-port",
                    "exactly one port, named http1, containerPort " + httpPort + " (quarkus.http.port), got " + ports);
        }
    }

    /**
     * Every open WebSocket is one in-flight request to Knative's autoscaler: scale on concurrency, with a target (in
     * connections) that one replica accepts (tether.limits.max-connections).
     */
    void concurrencyTargetInConnections(Map<String, Object> annotations, ContainerEnv env, String path, Findings f) {
        String metric = Node.string(annotations.get(KnativeRules.AUTOSCALING + "/metric"));
        Optional<Double> target = Node.decimal(annotations.get(KnativeRules.AUTOSCALING + "/target"));
        long maxConnections = Long.parseLong(env.valueOf("tether.limits.max-connections", keys).orElseThrow());
        if (!metric.equals("concurrency") || target.isEmpty() || target.get() < 1 || target.get() > maxConnections) {
            f.fail(path, "tether/concurrency-target", KnativeRules.AUTOSCALING + "/metric: concurrency and "
                    + KnativeRules.AUTOSCALING + "/target: connections per replica, 1.." + maxConnections
                    + " (tether.limits.max-connections), got metric " + metric + ", target " + target.orElse(null));
        }
    }

    /** Readiness is Tether's: DOWN while PostgreSQL is unreachable or before recovery finished. */
    static void readinessOnHealth(Map<String, Object> container, String path, Findings f) {
        String probed = Node.string(Node.map(container, "readinessProbe", "httpGet").get("path"));
        if (!probed.equals(READINESS_PATH)) {
            f.fail(path + ".readinessProbe.httpGet.path", "tether/readiness", "expected " + READINESS_PATH
                    + ", got '" + probed + "'");
        }
    }

    /** Every variable (and every key of an envFrom Secret) sets a real Tether or Quarkus key. */
    void envNamesAreKeys(ContainerEnv env, Findings f) {
        for (ContainerEnv.Variable v : env.declared()) {
            if (!keys.isKnown(v.name())) {
                f.fail(v.field(), "tether/env-key", v.name() + " sets no Tether key and no key of the Quarkus roots "
                        + ConfigKeys.QUARKUS_ROOTS);
            }
        }
        for (String secret : env.missingSecrets()) {
            f.fail("envFrom", "tether/secret-defined", "Secret " + secret + " is defined nowhere under deploy/");
        }
    }

    /** The datasource (URLs and credentials) comes from a Secret, never a plain value in the manifest. */
    static void databaseFromSecret(ContainerEnv env, String path, Findings f) {
        for (String key : DATASOURCE_KEYS) {
            Optional<ContainerEnv.Variable> v = env.get(ConfigKeys.envName(key));
            if (v.isEmpty() || v.get().source() != ContainerEnv.Source.SECRET) {
                f.fail(v.map(ContainerEnv.Variable::field).orElse(path + ".envFrom"), "tether/database-secret",
                        ConfigKeys.envName(key) + " must come from a Secret, got "
                                + v.map(x -> x.source().toString()).orElse("nothing"));
            }
        }
    }

    /** Replicas authenticate each other on the link with tether.cluster.secret, from a Secret. */
    static void clusterSecretFromSecret(ContainerEnv env, String path, Findings f) {
        Optional<ContainerEnv.Variable> v = env.get(ConfigKeys.envName(CLUSTER_SECRET));
        if (v.isEmpty() || v.get().source() != ContainerEnv.Source.SECRET) {
            f.fail(v.map(ContainerEnv.Variable::field).orElse(path + ".envFrom"), "tether/cluster-secret",
                    ConfigKeys.envName(CLUSTER_SECRET) + " must come from a Secret when there can be several replicas");
        }
    }

    /** The replica link (reached by pod IP, undeclared on Knative) must not clash with the serving or Knative's ports. */
    void clusterPortFree(ContainerEnv env, long servingPort, String path, Findings f) {
        long port = Long.parseLong(env.valueOf("tether.cluster.port", keys).orElseThrow());
        if (port == 0 || port == servingPort || KnativeRules.RESERVED_PORTS.contains(port)) {
            f.fail(path + ".env", "tether/cluster-port", "tether.cluster.port " + port
                    + " clashes with the serving port, a port Knative reserves, or is 0");
        }
    }

    /**
     * Behind Knative every WebSocket arrives from the queue-proxy in the pod, on loopback if Tether listens there: set
     * tether.auth.allow-anonymous=false so that clients must log in whatever quarkus.http.host is.
     */
    static void noAnonymousBehindQueueProxy(ContainerEnv env, String path, Findings f) {
        Optional<ContainerEnv.Variable> v = env.get(ConfigKeys.envName("tether.auth.allow-anonymous"));
        if (v.isEmpty() || !"false".equals(v.get().value())) {
            f.fail(path + ".env", "tether/no-anonymous", "TETHER_AUTH_ALLOW_ANONYMOUS must be \"false\"");
        }
    }

    /** Each named port of a Kubernetes pod is the port Tether listens on for it, and all of them are declared. */
    void portsAreTethers(Map<String, Object> container, ContainerEnv env, String path, Findings f) {
        Map<String, Long> declared = new LinkedHashMap<>();
        Node.list(container.get("ports")).stream().map(Node::map).forEach(
                p -> declared.put(Node.string(p.get("name")), Node.integer(p.get("containerPort")).orElse(-1)));
        KUBERNETES_PORTS.forEach((name, key) -> {
            String listening = env.valueOf(key, keys).orElseThrow();
            if (!declared.containsKey(name) || !String.valueOf(declared.get(name)).equals(listening)) {
                f.fail(path + ".ports", "tether/ports", "port " + name + " must be " + listening + " (" + key
                        + "), got " + declared.get(name));
            }
        });
    }

    /** On plain Kubernetes clients and the kubelet reach the pod address: neither listener on loopback. */
    void listenersReachable(ContainerEnv env, String path, Findings f) {
        for (String key : List.of("tether.mqtt.host", "quarkus.http.host")) {
            String host = env.valueOf(key, keys).orElse("");
            if (host.startsWith("127.") || host.equals("localhost") || host.equals("::1")) {
                f.fail(path + ".env", "tether/listeners-reachable", key + " is " + host + ": set 0.0.0.0");
            }
        }
    }

    /** The instance state must outlive a container restart: its directory is a volume mount. */
    void instanceStateOnVolume(Map<String, Object> container, ContainerEnv env, String path, Findings f) {
        String dir = env.valueOf("tether.instance.state-dir", keys).orElse("");
        boolean mounted = Node.list(container.get("volumeMounts")).stream()
                .anyMatch(m -> dir.equals(Node.string(Node.map(m).get("mountPath"))));
        if (!mounted) {
            f.fail(path + ".volumeMounts", "tether/instance-state", "mount a volume (emptyDir) at tether.instance.state-dir "
                    + dir);
        }
    }

    /** The Service in front of the pods carries MQTT over TCP and TLS. */
    static void mqttExposed(Manifest service, Findings f) {
        List<Object> ports = Node.list(Node.map(service.body(), "spec").get("ports"));
        for (String target : List.of("mqtt", "mqtts")) {
            if (ports.stream().noneMatch(p -> target.equals(Node.map(p).get("targetPort")))) {
                f.fail("spec.ports", "tether/mqtt-exposed", "no port with targetPort " + target);
            }
        }
    }

    private static long maxScale(Map<String, Object> annotations) {
        return Node.integer(annotations.get(KnativeRules.AUTOSCALING + "/max-scale")).orElse(0);
    }

    private static Map<String, String> orderedMap(String... pairs) {
        Map<String, String> map = new LinkedHashMap<>();
        for (int i = 0; i < pairs.length; i += 2) {
            map.put(pairs[i], pairs[i + 1]);
        }
        return map;
    }
}
