package dev.tether.deploy;

import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What Knative Serving's admission webhook refuses in a {@code serving.knative.dev/v1} Service, with the default feature
 * flags ({@code config-features}) and defaults ({@code config-defaults}: max-revision-timeout-seconds 600,
 * container-concurrency-max-limit 1000, zero container concurrency allowed, zero initial scale not allowed).
 * Ported from knative/serving (main, August 2026): {@code pkg/apis/serving/k8s_validation.go} (ValidatePodSpec,
 * validate, validateContainersPorts, validateContainerPorts, validateProbe, validateReadinessProbe, validateEnvVar,
 * validateEnvFrom, ValidateVolumes, validateVolumeMounts), {@code fieldmask.go} (which fields each object may hold;
 * unknown fields are refused by strict decoding), {@code metadata_validation.go} (autoscaling annotations only on the
 * revision template), {@code v1/revision_validation.go} (timeoutSeconds, containerConcurrency) and
 * {@code autoscaling/annotation_validation.go}. Where the webhook validates after defaulting
 * ({@code v1/revision_defaults.go}: readiness probe thresholds, a TCP readiness probe when none is given), the
 * defaults are applied first. Each rule is one method; a rule's name starts with {@code knative/}.
 */
final class KnativeRules {

    static final Set<Long> RESERVED_PORTS = Set.of(8008L, 8012L, 8013L, 8022L, 9090L, 9091L);
    static final Set<String> RESERVED_ENV = Set.of("PORT", "K_SERVICE", "K_CONFIGURATION", "K_REVISION");
    static final Set<String> PORT_NAMES = Set.of("", "http1", "h2c");
    static final long MAX_TIMEOUT_SECONDS = 600;
    static final long MAX_CONTAINER_CONCURRENCY = 1000;
    static final String AUTOSCALING = "autoscaling.knative.dev";

    private static final List<String> PROBE_HANDLERS = List.of("httpGet", "tcpSocket", "exec", "grpc");
    private static final Set<String> RESERVED_MOUNT_PATHS = Set.of("/", "/dev", "/dev/log");

    private static final FieldShape OBJECT_META = FieldShape.of("ObjectMeta",
            "name", "generateName", "namespace", "labels", "annotations");
    private static final FieldShape KEY_SELECTOR = FieldShape.of("SecretKeySelectorMask / ConfigMapKeySelectorMask",
            "name", "key", "optional");
    private static final FieldShape ENV_VAR = FieldShape.of("EnvVarMask", "name", "value", "valueFrom",
            FieldShape.of("EnvVarSourceMask; fieldRef and resourceFieldRef need the feature kubernetes.podspec-fieldref,"
                    + " disabled by default", "configMapKeyRef", KEY_SELECTOR, "secretKeyRef", KEY_SELECTOR));
    private static final FieldShape ENV_SOURCE = FieldShape.of("SecretEnvSourceMask / ConfigMapEnvSourceMask",
            "name", "optional");
    private static final FieldShape ENV_FROM = FieldShape.of("EnvFromSourceMask",
            "prefix", "configMapRef", ENV_SOURCE, "secretRef", ENV_SOURCE);
    private static final FieldShape PORT = FieldShape.of("ContainerPortMask", "containerPort", "name", "protocol");
    private static final FieldShape PROBE = FieldShape.of("ProbeMask and HandlerMask",
            "httpGet", FieldShape.of("HTTPGetActionMask", "host", "path", "scheme", "httpHeaders", "port"),
            "tcpSocket", FieldShape.of("TCPSocketActionMask", "host", "port"),
            "exec", FieldShape.of("ExecActionMask", "command"),
            "grpc", FieldShape.of("GRPCActionMask", "port", "service"),
            "initialDelaySeconds", "timeoutSeconds", "periodSeconds", "successThreshold", "failureThreshold",
            "terminationGracePeriodSeconds");
    private static final FieldShape SECURITY_CONTEXT = FieldShape.of("SecurityContextMask",
            "capabilities", FieldShape.of("CapabilitiesMask; add needs kubernetes.containerspec-addcapabilities", "drop"),
            "readOnlyRootFilesystem", "runAsUser", "runAsGroup", "runAsNonRoot", "allowPrivilegeEscalation",
            "seccompProfile", "privileged");
    private static final FieldShape CONTAINER = FieldShape.of("ContainerMask",
            "name", "args", "command", "env", ENV_VAR, "workingDir", "envFrom", ENV_FROM, "image", "imagePullPolicy",
            "livenessProbe", PROBE, "ports", PORT, "readinessProbe", PROBE,
            "resources", FieldShape.of("ResourceRequirementsMask", "limits", "requests"),
            "securityContext", SECURITY_CONTEXT, "startupProbe", PROBE, "terminationMessagePath",
            "terminationMessagePolicy",
            "volumeMounts", FieldShape.of("VolumeMountMask", "name", "readOnly", "mountPath", "subPath"));
    private static final FieldShape VOLUME = FieldShape.of(
            "VolumeMask / VolumeSourceMask; hostPath, persistentVolumeClaim, csi, ephemeral and image need features"
                    + " disabled by default", "name", "secret", "configMap", "projected",
            "emptyDir", FieldShape.of("EmptyDirVolumeSource", "medium", "sizeLimit"));
    private static final FieldShape REVISION_SPEC = FieldShape.of(
            "RevisionSpec and PodSpecMask (affinity, nodeSelector, tolerations, securityContext, initContainers, "
                    + "hostNetwork ... need features disabled by default)",
            "serviceAccountName", "containers", CONTAINER, "volumes", VOLUME, "imagePullSecrets",
            "enableServiceLinks", "automountServiceAccountToken",
            "containerConcurrency", "timeoutSeconds", "responseStartTimeoutSeconds", "idleTimeoutSeconds");
    /** What a Service may hold (strict decoding of serving.knative.dev/v1 Service, narrowed by fieldmask.go). */
    static final FieldShape SERVICE = FieldShape.of("serving.knative.dev/v1 Service",
            "apiVersion", "kind", "metadata", OBJECT_META,
            "spec", FieldShape.of("ServiceSpec", "traffic",
                    "template", FieldShape.of("RevisionTemplateSpec", "metadata", OBJECT_META, "spec", REVISION_SPEC)));

    private KnativeRules() {
    }

    /** The port Knative serves: the first declared one, defaulted to name "http" and 8080 (validateContainersPorts). */
    record ServingPort(String name, long containerPort) {
    }

    static void check(Manifest service, Findings f) {
        Map<String, Object> body = service.body();
        fieldsAllowed(body, f);
        autoscalingAnnotationsOnlyOnTemplate(Node.map(body, "metadata", "annotations"), "metadata.annotations", f);
        autoscalingAnnotations(Node.map(body, "spec", "template", "metadata", "annotations"),
                "spec.template.metadata.annotations", f);
        Map<String, Object> spec = Node.map(body, "spec", "template", "spec");
        String path = "spec.template.spec";
        timeoutSeconds(spec, path, f);
        containerConcurrency(spec, path, f);
        valueMaskedUnlessFalse(spec, "automountServiceAccountToken", path, f);
        List<Object> containers = Node.list(spec.get("containers"));
        containersPresent(containers, path, f);
        onePort(containers, path, f);
        containerNamesUnique(containers, path, f);
        ServingPort port = servingPort(containers);
        Set<String> volumes = volumes(Node.list(spec.get("volumes")), containers, path + ".volumes", f);
        for (int i = 0; i < containers.size(); i++) {
            Map<String, Object> container = Node.map(containers.get(i));
            String at = path + ".containers[" + i + "]";
            boolean user = containers.size() == 1 || !Node.list(container.get("ports")).isEmpty();
            containerName(container, at, f);
            image(container, at, f);
            env(Node.list(container.get("env")), at + ".env", f);
            envFrom(Node.list(container.get("envFrom")), at + ".envFrom", f);
            firstPort(Node.list(container.get("ports")), at + ".ports", f);
            if (user) {
                probe(Node.map(container.get("livenessProbe")), at + ".livenessProbe", port, f);
                readinessProbe(Node.map(container.get("readinessProbe")), at + ".readinessProbe", port, f);
                probe(Node.map(container.get("startupProbe")), at + ".startupProbe", port, f);
            } else {
                sidecarProbesRefused(container, at, f);
            }
            terminationMessagePolicy(container, at, f);
            valueMaskedUnlessFalse(Node.map(container.get("securityContext")), "privileged", at + ".securityContext", f);
            volumeMounts(Node.list(container.get("volumeMounts")), volumes, at + ".volumeMounts", f);
        }
    }

    /** Strict decoding and fieldmask.go: no field outside what Knative's Service allows. */
    static void fieldsAllowed(Map<String, Object> body, Findings f) {
        SERVICE.check(body, "", "knative/field-allowed", f);
    }

    /** metadata_validation.go ValidateHasNoAutoscalingAnnotation: on the Service they would do nothing. */
    static void autoscalingAnnotationsOnlyOnTemplate(Map<String, Object> annotations, String path, Findings f) {
        for (String key : annotations.keySet()) {
            if (key.startsWith(AUTOSCALING)) {
                f.fail(path + "." + key, "knative/autoscaling-annotation-placement",
                        "autoscaling annotations must be put under spec.template.metadata.annotations to work");
            }
        }
    }

    /** autoscaling/annotation_validation.go ValidateAnnotations (KPA, the default class). */
    static void autoscalingAnnotations(Map<String, Object> annotations, String path, Findings f) {
        String rule = "knative/autoscaling-annotation";
        String cls = Node.string(annotations.get(AUTOSCALING + "/class"));
        if (cls.endsWith(".knative.dev") && !cls.equals("kpa.autoscaling.knative.dev")
                && !cls.equals("hpa.autoscaling.knative.dev")) {
            f.fail(path + "." + AUTOSCALING + "/class", rule, "unknown autoscaler class " + cls);
        }
        long min = nonNegativeInt(annotations, path, f, "min-scale", "minScale");
        long max = nonNegativeInt(annotations, path, f, "max-scale", "maxScale");
        if (max != 0 && max < min) {
            f.fail(path + "." + AUTOSCALING + "/max-scale", rule, "max-scale=" + max + " is less than min-scale=" + min);
        }
        decimalAnnotation(annotations, "target", path, f).filter(t -> t < 0.01)
                .ifPresent(t -> f.fail(path + "." + AUTOSCALING + "/target", rule, "target should be at least 0.01"));
        decimalAnnotation(annotations, "target-utilization-percentage", path, f).filter(t -> t < 1 || t > 100)
                .ifPresent(t -> f.fail(path + "." + AUTOSCALING + "/target-utilization-percentage", rule,
                        "must be in 1..100"));
        String metric = Node.string(annotations.get(AUTOSCALING + "/metric"));
        boolean hpa = cls.equals("hpa.autoscaling.knative.dev");
        if (annotations.containsKey(AUTOSCALING + "/metric")
                && (hpa ? metric.isEmpty() : !metric.equals("concurrency") && !metric.equals("rps"))) {
            f.fail(path + "." + AUTOSCALING + "/metric", rule, "invalid metric " + metric + " for this autoscaler class");
        }
        if (annotations.containsKey(AUTOSCALING + "/initial-scale")) {
            OptionalLong initial = Node.integer(annotations.get(AUTOSCALING + "/initial-scale"));
            if (initial.isEmpty() || initial.getAsLong() < 1) {
                f.fail(path + "." + AUTOSCALING + "/initial-scale", rule,
                        "must be a whole number >= 1 (0 needs allow-zero-initial-scale)");
            }
        }
        durationAnnotation(annotations, "window", Duration.ofSeconds(6), path, f);
        durationAnnotation(annotations, "scale-down-delay", Duration.ZERO, path, f);
    }

    /** revision_validation.go validateTimeoutSeconds: 0..max-revision-timeout-seconds. */
    static void timeoutSeconds(Map<String, Object> spec, String path, Findings f) {
        if (spec.containsKey("timeoutSeconds")) {
            OptionalLong timeout = Node.integer(spec.get("timeoutSeconds"));
            if (timeout.isEmpty() || timeout.getAsLong() < 0 || timeout.getAsLong() > MAX_TIMEOUT_SECONDS) {
                f.fail(path + ".timeoutSeconds", "knative/timeout-seconds", "expected 0.." + MAX_TIMEOUT_SECONDS
                        + " (max-revision-timeout-seconds), got " + spec.get("timeoutSeconds"));
            }
        }
    }

    /** metadata_validation.go ValidateContainerConcurrency: 0..container-concurrency-max-limit. */
    static void containerConcurrency(Map<String, Object> spec, String path, Findings f) {
        if (spec.containsKey("containerConcurrency")) {
            OptionalLong cc = Node.integer(spec.get("containerConcurrency"));
            if (cc.isEmpty() || cc.getAsLong() < 0 || cc.getAsLong() > MAX_CONTAINER_CONCURRENCY) {
                f.fail(path + ".containerConcurrency", "knative/container-concurrency", "expected 0.."
                        + MAX_CONTAINER_CONCURRENCY + ", got " + spec.get("containerConcurrency"));
            }
        }
    }

    /** fieldmask.go keeps automountServiceAccountToken and privileged only when they are false. */
    static void valueMaskedUnlessFalse(Map<String, Object> node, String field, String path, Findings f) {
        if (node.containsKey(field) && !Boolean.FALSE.equals(node.get(field))) {
            f.fail(Node.join(path, field), "knative/field-allowed", "allowed only as false");
        }
    }

    /** ValidatePodSpec: at least one container. */
    static void containersPresent(List<Object> containers, String path, Findings f) {
        if (containers.isEmpty()) {
            f.fail(path + ".containers", "knative/containers", "missing field");
        }
    }

    /** validateContainersPorts: one port across all containers, and one when there are several containers. */
    static void onePort(List<Object> containers, String path, Findings f) {
        int count = containers.stream().mapToInt(c -> Node.list(Node.map(c).get("ports")).size()).sum();
        if (count > 1) {
            for (int i = 0; i < containers.size(); i++) {
                if (!Node.list(Node.map(containers.get(i)).get("ports")).isEmpty()) {
                    f.fail(path + ".containers[" + i + "].ports", "knative/one-port",
                            "more than one container port is set: only a single port is allowed across all containers");
                }
            }
        } else if (count == 0 && containers.size() > 1) {
            f.fail(path + ".containers", "knative/one-port", "several containers and none declares the serving port");
        }
    }

    /** validateContainers: container names unique. */
    static void containerNamesUnique(List<Object> containers, String path, Findings f) {
        Set<String> seen = new HashSet<>();
        for (int i = 0; i < containers.size(); i++) {
            String name = Node.string(Node.map(containers.get(i)).get("name"));
            if (!seen.add(name)) {
                f.fail(path + ".containers[" + i + "].name", "knative/container-name", "duplicate container name " + name);
            }
        }
    }

    static ServingPort servingPort(List<Object> containers) {
        for (Object c : containers) {
            List<Object> ports = Node.list(Node.map(c).get("ports"));
            if (!ports.isEmpty()) {
                Map<String, Object> port = Node.map(ports.get(0));
                String name = Node.string(port.get("name"));
                return new ServingPort(name.isEmpty() ? "http" : name,
                        Node.integer(port.get("containerPort")).orElse(0) == 0 ? 8080
                                : Node.integer(port.get("containerPort")).getAsLong());
            }
        }
        return new ServingPort("http", 8080);
    }

    /** validate: queue-proxy is Knative's own container. */
    static void containerName(Map<String, Object> container, String path, Findings f) {
        if ("queue-proxy".equals(container.get("name"))) {
            f.fail(path + ".name", "knative/container-name", "queue-proxy is a reserved container name");
        }
    }

    /** validate: an image reference is required. */
    static void image(Map<String, Object> container, String path, Findings f) {
        String image = Node.string(container.get("image"));
        if (image.isBlank() || !image.matches("[^\\s]+")) {
            f.fail(path + ".image", "knative/image", "a valid image reference is required, got '" + image + "'");
        }
    }

    /** validateEnvVar: a name, not one Knative sets itself (PORT, K_SERVICE, K_CONFIGURATION, K_REVISION). */
    static void env(List<Object> env, String path, Findings f) {
        for (int i = 0; i < env.size(); i++) {
            String name = Node.string(Node.map(env.get(i)).get("name"));
            if (name.isEmpty()) {
                f.fail(path + "[" + i + "].name", "knative/env-name", "missing field");
            } else if (RESERVED_ENV.contains(name)) {
                f.fail(path + "[" + i + "].name", "knative/reserved-env", name + " is a reserved environment variable");
            }
        }
    }

    /** validateEnvFrom: each entry exactly one of configMapRef and secretRef. */
    static void envFrom(List<Object> envFrom, String path, Findings f) {
        for (int i = 0; i < envFrom.size(); i++) {
            Map<String, Object> from = Node.map(envFrom.get(i));
            if (from.containsKey("configMapRef") == from.containsKey("secretRef")) {
                f.fail(path + "[" + i + "]", "knative/env-from", "expected exactly one of configMapRef, secretRef");
            }
        }
    }

    /** validateContainerPorts and validateContainerPortBasic, on the serving (first) port. */
    static void firstPort(List<Object> ports, String path, Findings f) {
        if (ports.isEmpty()) {
            return;
        }
        Map<String, Object> port = Node.map(ports.get(0));
        String at = path + "[0]";
        long number = Node.integer(port.get("containerPort")).orElse(0);
        if (RESERVED_PORTS.contains(number)) {
            f.fail(at + ".containerPort", "knative/reserved-port", number + " is a reserved port");
        }
        if (number < 0 || number > 65535) {
            f.fail(at + ".containerPort", "knative/port-range", "expected 0..65535, got " + number);
        }
        String protocol = Node.string(port.get("protocol"));
        if (!protocol.isEmpty() && !protocol.equals("TCP")) {
            f.fail(at + ".protocol", "knative/port-protocol", "only TCP, got " + protocol);
        }
        String name = Node.string(port.get("name"));
        if (!PORT_NAMES.contains(name)) {
            f.fail(at + ".name", "knative/port-name", "port name " + name + " is not allowed: empty, 'h2c' or 'http1'");
        }
    }

    /** validateProbe: exactly one handler; a named port must be the serving port's name. */
    static void probe(Map<String, Object> probe, String path, ServingPort port, Findings f) {
        if (probe.isEmpty()) {
            return;
        }
        List<String> handlers = PROBE_HANDLERS.stream().filter(probe::containsKey).toList();
        if (handlers.size() != 1) {
            f.fail(path, "knative/probe-one-handler", "expected exactly one of " + PROBE_HANDLERS + ", got " + handlers);
        }
        for (String handler : List.of("httpGet", "tcpSocket")) {
            Object named = Node.map(probe.get(handler)).get("port");
            if (named instanceof String name && !name.isEmpty() && !name.equals(port.name())) {
                f.fail(path + "." + handler + ".port", "knative/probe-port",
                        "probe port must match the container port (" + port.name() + "), got " + name);
            }
        }
    }

    /** validateReadinessProbe, after revision_defaults.go (tcpSocket when no handler, thresholds). */
    static void readinessProbe(Map<String, Object> given, String path, ServingPort port, Findings f) {
        boolean hasHandler = PROBE_HANDLERS.stream().anyMatch(given::containsKey);
        Map<String, Object> probe = new LinkedHashMap<>(given);
        if (!hasHandler) {
            probe.put("tcpSocket", Map.of());
        }
        probe(probe, path, port, f);
        long period = Node.integer(probe.get("periodSeconds")).orElse(0);
        long initialDelay = Node.integer(probe.get("initialDelaySeconds")).orElse(0);
        long success = Node.integer(probe.get("successThreshold")).orElse(0);
        long timeout = Node.integer(probe.get("timeoutSeconds")).orElse(0);
        long failure = Node.integer(probe.get("failureThreshold")).orElse(0);
        String rule = "knative/readiness-probe";
        if (period < 0) {
            f.fail(path + ".periodSeconds", rule, "must be >= 0");
        }
        if (initialDelay < 0) {
            f.fail(path + ".initialDelaySeconds", rule, "must be >= 0");
        }
        if (success < 0) { // 0 (unset) is defaulted to 1
            f.fail(path + ".successThreshold", rule, "must be >= 1");
        }
        if (period == 0) {
            if (failure != 0) {
                f.fail(path + ".failureThreshold", rule, "failureThreshold is disallowed when periodSeconds is zero");
            }
            if (timeout != 0) {
                f.fail(path + ".timeoutSeconds", rule, "timeoutSeconds is disallowed when periodSeconds is zero");
            }
        } else { // 0 (unset) is defaulted to 1 and 3
            if (timeout < 0) {
                f.fail(path + ".timeoutSeconds", rule, "must be >= 1");
            }
            if (failure < 0) {
                f.fail(path + ".failureThreshold", rule, "must be >= 1");
            }
        }
    }

    /** validateSidecarContainer without multi-container-probing: a sidecar's probes may hold no field. */
    static void sidecarProbesRefused(Map<String, Object> container, String path, Findings f) {
        for (String probe : List.of("livenessProbe", "readinessProbe", "startupProbe")) {
            if (!Node.map(container.get(probe)).isEmpty()) {
                f.fail(path + "." + probe, "knative/field-allowed",
                        "probes of a container without the serving port need the feature multi-container-probing");
            }
        }
    }

    /** validate: terminationMessagePolicy is File or FallbackToLogsOnError. */
    static void terminationMessagePolicy(Map<String, Object> container, String path, Findings f) {
        String policy = Node.string(container.get("terminationMessagePolicy"));
        if (!policy.isEmpty() && !policy.equals("File") && !policy.equals("FallbackToLogsOnError")) {
            f.fail(path + ".terminationMessagePolicy", "knative/termination-message-policy", "invalid value " + policy);
        }
    }

    /** ValidateVolumes: unique names, each mounted, exactly one source; returns the names. */
    static Set<String> volumes(List<Object> volumes, List<Object> containers, String path, Findings f) {
        Set<String> mounted = new HashSet<>();
        for (Object c : containers) {
            Node.list(Node.map(c).get("volumeMounts")).forEach(m -> mounted.add(Node.string(Node.map(m).get("name"))));
        }
        Set<String> names = new HashSet<>();
        for (int i = 0; i < volumes.size(); i++) {
            Map<String, Object> volume = Node.map(volumes.get(i));
            String name = Node.string(volume.get("name"));
            String at = path + "[" + i + "]";
            if (!names.add(name)) {
                f.fail(at + ".name", "knative/volume", "duplicate volume name " + name);
            }
            if (!mounted.contains(name)) {
                f.fail(at + ".name", "knative/volume", "volume with name " + name + " not mounted");
            }
            List<String> sources = volume.keySet().stream().filter(k -> !k.equals("name")).toList();
            if (sources.size() != 1) {
                f.fail(at, "knative/volume", "expected exactly one volume source, got " + sources);
            }
            String medium = Node.string(Node.map(volume, "emptyDir").get("medium"));
            if (!medium.isEmpty() && !medium.equals("Memory")) {
                f.fail(at + ".emptyDir.medium", "knative/volume", "invalid value " + medium);
            }
        }
        return names;
    }

    /** validateVolumeMounts: a matching volume, an absolute, unreserved and unique mount path. */
    static void volumeMounts(List<Object> mounts, Set<String> volumes, String path, Findings f) {
        Set<String> paths = new HashSet<>();
        for (int i = 0; i < mounts.size(); i++) {
            Map<String, Object> mount = Node.map(mounts.get(i));
            String at = path + "[" + i + "]";
            if (!volumes.contains(Node.string(mount.get("name")))) {
                f.fail(at + ".name", "knative/volume-mount", "volumeMount has no matching volume");
            }
            String mountPath = Node.string(mount.get("mountPath"));
            String clean = Path.of(mountPath.isEmpty() ? "." : mountPath).normalize().toString();
            if (mountPath.isEmpty()) {
                f.fail(at + ".mountPath", "knative/volume-mount", "missing field");
            } else if (RESERVED_MOUNT_PATHS.contains(clean)) {
                f.fail(at + ".mountPath", "knative/volume-mount", "mountPath " + clean + " is a reserved path");
            } else if (!mountPath.startsWith("/")) {
                f.fail(at + ".mountPath", "knative/volume-mount", "must be absolute, got " + mountPath);
            } else if (!paths.add(clean)) {
                f.fail(at + ".mountPath", "knative/volume-mount", mountPath + " must be unique");
            }
        }
    }

    private static long nonNegativeInt(Map<String, Object> annotations, String path, Findings f, String... names) {
        for (String name : names) {
            String key = AUTOSCALING + "/" + name;
            if (annotations.containsKey(key)) {
                OptionalLong value = Node.integer(annotations.get(key));
                if (value.isEmpty() || value.getAsLong() < 0 || value.getAsLong() > Integer.MAX_VALUE) {
                    f.fail(path + "." + key, "knative/autoscaling-annotation", "expected a whole number 0.." + Integer.MAX_VALUE);
                    return 0;
                }
                return value.getAsLong();
            }
        }
        return 0;
    }

    private static Optional<Double> decimalAnnotation(Map<String, Object> annotations, String name, String path,
            Findings f) {
        String key = AUTOSCALING + "/" + name;
        if (!annotations.containsKey(key)) {
            return Optional.empty();
        }
        Optional<Double> value = Node.decimal(annotations.get(key));
        if (value.isEmpty()) {
            f.fail(path + "." + key, "knative/autoscaling-annotation", "not a number: " + annotations.get(key));
        }
        return value;
    }

    private static void durationAnnotation(Map<String, Object> annotations, String name, Duration min, String path,
            Findings f) {
        String key = AUTOSCALING + "/" + name;
        if (annotations.containsKey(key)) {
            Optional<Duration> d = goDuration(Node.string(annotations.get(key)));
            if (d.isEmpty() || d.get().compareTo(min) < 0 || d.get().compareTo(Duration.ofHours(1)) > 0
                    || d.get().getNano() != 0) {
                f.fail(path + "." + key, "knative/autoscaling-annotation",
                        "expected a duration in whole seconds between " + min + " and 1h");
            }
        }
    }

    /** A Go duration ("90s", "1m30s", "1h"). */
    static Optional<Duration> goDuration(String text) {
        Matcher m = Pattern.compile("(\\d+(?:\\.\\d+)?)(ns|us|ms|s|m|h)").matcher(text);
        Duration total = Duration.ZERO;
        int end = 0;
        while (m.find() && m.start() == end) {
            double amount = Double.parseDouble(m.group(1));
            long nanosPerUnit = switch (m.group(2)) {
                case "ns" -> 1L;
                case "us" -> 1_000L;
                case "ms" -> 1_000_000L;
                case "s" -> 1_000_000_000L;
                case "m" -> 60_000_000_000L;
                default -> 3_600_000_000_000L;
            };
            total = total.plusNanos(Math.round(amount * nanosPerUnit));
            end = m.end();
        }
        return end == text.length() && end > 0 ? Optional.of(total) : Optional.empty();
    }
}
