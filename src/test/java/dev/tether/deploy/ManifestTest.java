package dev.tether.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.yaml.snakeyaml.Yaml;

/**
 * Every manifest under {@code deploy/} passes Knative's admission rules ({@link KnativeRules}), Kubernetes' own
 * ({@link KubernetesRules}) and Tether's needs ({@link TetherRules}); and each rule, broken on purpose in a copy of the
 * shipped manifests, is reported with its manifest, document, field and name. Plain JUnit: no Quarkus, no network.
 */
class ManifestTest {

    private static final Path DEPLOY = Path.of("deploy");
    /** The files under deploy/, read once; each test parses its own copy. */
    private static final Map<String, String> TEXTS = Manifest.readTexts(DEPLOY);
    private static final ConfigKeys KEYS = ConfigKeys.ofTether();
    private static final String KNATIVE = "deploy/knative/service.yaml";
    private static final String KUBERNETES = "deploy/kubernetes/tether.yaml";

    @Test
    void everyManifestUnderDeploy_passesKnativeKubernetesAndTetherRules() {
        List<Manifest> all = Manifest.readAll(DEPLOY);

        assertThat(all).extracting(m -> m.file() + " " + m.apiVersion() + " " + m.kind()).contains(
                KNATIVE + " serving.knative.dev/v1 Service",
                KUBERNETES + " apps/v1 Deployment",
                KUBERNETES + " v1 Service",
                KUBERNETES + " v1 Secret");
        List<Violation> violations = new ManifestChecker(all, KEYS).checkAll();
        assertThat(violations).as(() -> "violations:\n" + String.join("\n", violations.stream().map(Violation::toString)
                .toList())).isEmpty();
    }

    @Test
    void configKeys_readTethersMappingsAndQuarkusRoots() {
        assertThat(KEYS.tetherKey("TETHER_SESSION_MQTT311_EXPIRY_INTERVAL")).contains("tether.session.mqtt311-expiry-interval");
        assertThat(KEYS.tetherKey("TETHER_EMBEDDED_POSTGRES_DATA_DIR")).contains("tether.embedded-postgres.data-dir");
        assertThat(KEYS.tetherKey("TETHER_LOG_REPEAT_WINDOW")).contains("tether.log.repeat-window");
        assertThat(KEYS.defaultValue("tether.cluster.port")).contains("7883");
        assertThat(KEYS.defaultValue("quarkus.http.port")).contains("8080");
        assertThat(KEYS.isKnown("QUARKUS_DATASOURCE_REACTIVE_URL")).isTrue();
        assertThat(KEYS.isKnown("TETHER_MQTT_PORTT")).isFalse();
        assertThat(KEYS.isKnown("QUARKUS_")).isFalse();
    }

    // Knative's rules, each broken once in the shipped Knative Service.

    @Test
    void knativeService_withTwoPorts_breaksOnePort() {
        List<Violation> found = knativeServiceWith(s -> container(s).put("ports",
                yaml("[{name: http1, containerPort: 8080}, {name: cluster, containerPort: 7883}]")));
        assertBreaks(found, "knative/one-port", "spec.template.spec.containers[0].ports");
    }

    @Test
    void knativeService_onQueueProxyPort_breaksReservedPort() {
        List<Violation> found = knativeServiceWith(s -> container(s).put("ports", yaml("[{name: http1, containerPort: 8012}]")));
        assertBreaks(found, "knative/reserved-port", "spec.template.spec.containers[0].ports[0].containerPort");
        assertBreaks(found, "tether/websocket-port", "spec.template.spec.containers[*].ports");
    }

    @Test
    void knativeService_withPortNamedHttp_breaksPortName() {
        List<Violation> found = knativeServiceWith(s -> container(s).put("ports", yaml("[{name: http, containerPort: 8080}]")));
        assertBreaks(found, "knative/port-name", "spec.template.spec.containers[0].ports[0].name");
    }

    @Test
    void knativeService_withH2cPort_passesKnativeButBreaksTethersWebSocketPort() {
        List<Violation> found = knativeServiceWith(s -> container(s).put("ports", yaml("[{name: h2c, containerPort: 8080}]")));
        assertThat(found).extracting(Violation::rule).containsExactly("tether/websocket-port");
    }

    @Test
    void knativeService_withUdpPort_breaksPortProtocol() {
        List<Violation> found = knativeServiceWith(s -> container(s).put("ports",
                yaml("[{name: http1, containerPort: 8080, protocol: UDP}]")));
        assertBreaks(found, "knative/port-protocol", "spec.template.spec.containers[0].ports[0].protocol");
    }

    @Test
    void knativeService_withHostPort_breaksFieldAllowed() {
        List<Violation> found = knativeServiceWith(s -> container(s).put("ports",
                yaml("[{name: http1, containerPort: 8080, hostPort: 80}]")));
        assertBreaks(found, "knative/field-allowed", "spec.template.spec.containers[0].ports[0].hostPort");
    }

    @Test
    void knativeService_withFieldRef_breaksFieldAllowed() {
        List<Violation> found = knativeServiceWith(s -> env(s).add(yaml(
                "{name: TETHER_CLUSTER_ADVERTISED_HOST, valueFrom: {fieldRef: {fieldPath: status.podIP}}}")));
        assertBreaks(found, "knative/field-allowed", "spec.template.spec.containers[0].env[2].valueFrom.fieldRef");
    }

    @Test
    void knativeService_withLifecycleHook_breaksFieldAllowed() {
        List<Violation> found = knativeServiceWith(s -> container(s).put("lifecycle",
                yaml("{preStop: {exec: {command: [sleep, '5']}}}")));
        assertBreaks(found, "knative/field-allowed", "spec.template.spec.containers[0].lifecycle");
    }

    @Test
    void knativeService_withTerminationGracePeriod_breaksFieldAllowed() {
        List<Violation> found = knativeServiceWith(s -> podSpec(s).put("terminationGracePeriodSeconds", 30));
        assertBreaks(found, "knative/field-allowed", "spec.template.spec.terminationGracePeriodSeconds");
    }

    @Test
    void knativeService_withEnvNamedPort_breaksReservedEnv() {
        List<Violation> found = knativeServiceWith(s -> env(s).add(yaml("{name: PORT, value: '8080'}")));
        assertBreaks(found, "knative/reserved-env", "spec.template.spec.containers[0].env[2].name");
    }

    @Test
    void knativeService_withProbeOfTwoHandlers_breaksProbeOneHandler() {
        List<Violation> found = knativeServiceWith(s -> container(s).put("livenessProbe",
                yaml("{httpGet: {path: /q/health/live}, tcpSocket: {port: http1}}")));
        assertBreaks(found, "knative/probe-one-handler", "spec.template.spec.containers[0].livenessProbe");
    }

    @Test
    void knativeService_withProbeOnAnotherPort_breaksProbePort() {
        List<Violation> found = knativeServiceWith(s -> container(s).put("livenessProbe",
                yaml("{httpGet: {path: /q/health/live, port: management}}")));
        assertBreaks(found, "knative/probe-port", "spec.template.spec.containers[0].livenessProbe.httpGet.port");
    }

    @Test
    void knativeService_withAutoscalingAnnotationOnService_breaksPlacement() {
        List<Violation> found = knativeServiceWith(s -> Node.map(s.get("metadata")).put("annotations",
                yaml("{autoscaling.knative.dev/max-scale: '5'}")));
        assertBreaks(found, "knative/autoscaling-annotation-placement",
                "metadata.annotations.autoscaling.knative.dev/max-scale");
    }

    @Test
    void knativeService_withMaxScaleBelowMinScale_breaksAutoscalingAnnotation() {
        List<Violation> found = knativeServiceWith(s -> annotations(s).put("autoscaling.knative.dev/min-scale", "6"));
        assertBreaks(found, "knative/autoscaling-annotation", "spec.template.metadata.annotations.autoscaling.knative.dev/max-scale");
    }

    @Test
    void knativeService_withTimeoutAboveMaximum_breaksTimeoutSeconds() {
        List<Violation> found = knativeServiceWith(s -> podSpec(s).put("timeoutSeconds", 601));
        assertBreaks(found, "knative/timeout-seconds", "spec.template.spec.timeoutSeconds");
    }

    @Test
    void knativeService_withContainerConcurrencyAboveMaximum_breaksContainerConcurrency() {
        List<Violation> found = knativeServiceWith(s -> podSpec(s).put("containerConcurrency", 1001));
        assertBreaks(found, "knative/container-concurrency", "spec.template.spec.containerConcurrency");
        assertBreaks(found, "tether/container-concurrency", "spec.template.spec.containerConcurrency");
    }

    @Test
    void knativeService_withUnmountedVolume_breaksVolume() {
        List<Violation> found = knativeServiceWith(s -> Node.list(podSpec(s).get("volumes")).add(yaml("{name: spare, emptyDir: {}}")));
        assertBreaks(found, "knative/volume", "spec.template.spec.volumes[1].name");
    }

    // Tether's needs on Knative.

    @Test
    void knativeService_withoutResponseStartTimeout_breaksResponseStartTimeout() {
        List<Violation> found = knativeServiceWith(s -> podSpec(s).remove("responseStartTimeoutSeconds"));
        assertBreaks(found, "tether/response-start-timeout", "spec.template.spec.responseStartTimeoutSeconds");
    }

    @Test
    void knativeService_withIdleTimeout_breaksNoIdleTimeout() {
        List<Violation> found = knativeServiceWith(s -> podSpec(s).put("idleTimeoutSeconds", 60));
        assertBreaks(found, "tether/no-idle-timeout", "spec.template.spec.idleTimeoutSeconds");
    }

    @Test
    void knativeService_scalingOnRequestsPerSecond_breaksConcurrencyTarget() {
        List<Violation> found = knativeServiceWith(s -> annotations(s).put("autoscaling.knative.dev/metric", "rps"));
        assertBreaks(found, "tether/concurrency-target", "spec.template.metadata.annotations");
    }

    @Test
    void knativeService_withTargetAboveMaxConnections_breaksConcurrencyTarget() {
        List<Violation> found = knativeServiceWith(s -> env(s).add(yaml("{name: TETHER_LIMITS_MAX_CONNECTIONS, value: '500'}")));
        assertBreaks(found, "tether/concurrency-target", "spec.template.metadata.annotations");
    }

    @Test
    void knativeService_withMistypedKey_breaksEnvKey() {
        List<Violation> found = knativeServiceWith(s -> env(s).add(yaml("{name: TETHER_MQTT_PORTT, value: '1884'}")));
        assertBreaks(found, "tether/env-key", "spec.template.spec.containers[0].env[2]");
    }

    @Test
    void knativeService_withPasswordInPlainText_breaksDatabaseSecret() {
        List<Violation> found = knativeServiceWith(s -> env(s).add(yaml("{name: QUARKUS_DATASOURCE_PASSWORD, value: secret}")));
        assertBreaks(found, "tether/database-secret", "spec.template.spec.containers[0].env[2]");
    }

    @Test
    void knativeService_withoutClusterSecret_breaksClusterSecret() {
        List<Violation> found = knativeServiceWith(s -> Node.list(container(s).get("envFrom")).remove(1));
        assertBreaks(found, "tether/cluster-secret", "spec.template.spec.containers[0].envFrom");
    }

    @Test
    void knativeService_withReadinessOnLiveness_breaksReadiness() {
        List<Violation> found = knativeServiceWith(s -> container(s).put("readinessProbe", yaml("{httpGet: {path: /q/health/live}}")));
        assertBreaks(found, "tether/readiness", "spec.template.spec.containers[0].readinessProbe.httpGet.path");
    }

    @Test
    void knativeService_allowingAnonymous_breaksNoAnonymous() {
        List<Violation> found = knativeServiceWith(s -> env(s).remove(0));
        assertBreaks(found, "tether/no-anonymous", "spec.template.spec.containers[0].env");
    }

    // Kubernetes' and Tether's rules on the Deployment and Service.

    @Test
    void deployment_withClusterPortOtherThanTethers_breaksPorts() {
        List<Violation> found = manifestWith(KUBERNETES, "Deployment", d -> Node.list(deploymentContainer(d).get("ports"))
                .set(3, yaml("{name: cluster, containerPort: 7884}")));
        assertBreaks(found, "tether/ports", "spec.template.spec.containers[0].ports");
    }

    @Test
    void deployment_probingAnUndeclaredPort_breaksProbePort() {
        List<Violation> found = manifestWith(KUBERNETES, "Deployment", d -> deploymentContainer(d).put("livenessProbe",
                yaml("{httpGet: {path: /q/health/live, port: management}}")));
        assertBreaks(found, "kubernetes/probe-port", "spec.template.spec.containers[0].livenessProbe.httpGet.port");
    }

    @Test
    void deployment_withMqttOnLoopback_breaksListenersReachable() {
        List<Violation> found = manifestWith(KUBERNETES, "Deployment", d -> Node.list(deploymentContainer(d).get("env"))
                .removeIf(e -> "TETHER_MQTT_HOST".equals(Node.map(e).get("name"))));
        assertBreaks(found, "tether/listeners-reachable", "spec.template.spec.containers[0].env");
    }

    @Test
    void service_targetingAnUndeclaredPort_breaksServiceTargetPort() {
        List<Violation> found = manifestWith(KUBERNETES, "Service", s -> Node.list(Node.map(s.get("spec")).get("ports"))
                .add(yaml("{name: admin, port: 9000, targetPort: admin}")));
        assertBreaks(found, "kubernetes/service-target-port", "spec.ports[3].targetPort");
    }

    @Test
    void unknownKind_breaksKnownKind() {
        List<Manifest> all = Manifest.parse("deploy/extra.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n");
        List<Violation> found = new ManifestChecker(all, KEYS).checkAll();
        assertBreaks(found, "manifest/known-kind", "kind");
        assertThat(found.get(0).toString()).isEqualTo(
                "deploy/extra.yaml #1 kind: [manifest/known-kind] no rules for v1 ConfigMap: add them to dev.tether.deploy"
                        + " before shipping it");
    }

    private static List<Violation> knativeServiceWith(Consumer<Map<String, Object>> change) {
        return manifestWith(KNATIVE, "Service", change);
    }

    /** The violations of the shipped manifest of {@code kind} in {@code file}, read afresh and changed first. */
    private static List<Violation> manifestWith(String file, String kind, Consumer<Map<String, Object>> change) {
        List<Manifest> all = Manifest.parseAll(TEXTS);
        Manifest target = all.stream().filter(m -> m.file().equals(file) && m.kind().equals(kind)).findFirst().orElseThrow();
        change.accept(target.body());
        return new ManifestChecker(all, KEYS).check(target);
    }

    private static void assertBreaks(List<Violation> found, String rule, String field) {
        assertThat(found).as(found.toString()).anySatisfy(v -> {
            assertThat(v.rule()).isEqualTo(rule);
            assertThat(v.field()).isEqualTo(field);
        });
    }

    private static Map<String, Object> podSpec(Map<String, Object> service) {
        return Node.map(service, "spec", "template", "spec");
    }

    private static Map<String, Object> annotations(Map<String, Object> service) {
        return Node.map(service, "spec", "template", "metadata", "annotations");
    }

    private static Map<String, Object> container(Map<String, Object> service) {
        return Node.map(Node.list(podSpec(service).get("containers")).get(0));
    }

    private static List<Object> env(Map<String, Object> service) {
        return Node.list(container(service).get("env"));
    }

    private static Map<String, Object> deploymentContainer(Map<String, Object> deployment) {
        return Node.map(Node.list(Node.map(deployment, "spec", "template", "spec").get("containers")).get(0));
    }

    @SuppressWarnings("unchecked")
    private static <T> T yaml(String text) {
        return (T) new Yaml().load(text);
    }
}
