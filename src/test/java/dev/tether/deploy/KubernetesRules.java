package dev.tether.deploy;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * What Kubernetes itself would refuse or leave broken in a Deployment and the Service in front of it: a probe with
 * other than one handler, a probe or Service naming a port no container declares, a Service selecting no pods of
 * {@code deploy/}. Each rule is one method; a rule's name starts with {@code kubernetes/}.
 */
final class KubernetesRules {

    private static final List<String> PROBE_HANDLERS = List.of("httpGet", "tcpSocket", "exec", "grpc");

    private KubernetesRules() {
    }

    static void checkDeployment(Manifest deployment, Findings f) {
        List<Object> containers = Node.list(Node.map(deployment.body(), "spec", "template", "spec").get("containers"));
        for (int i = 0; i < containers.size(); i++) {
            Map<String, Object> container = Node.map(containers.get(i));
            String at = "spec.template.spec.containers[" + i + "]";
            Set<String> portNames = Node.list(container.get("ports")).stream()
                    .map(p -> Node.string(Node.map(p).get("name"))).collect(Collectors.toSet());
            for (String probe : List.of("livenessProbe", "readinessProbe", "startupProbe")) {
                Map<String, Object> p = Node.map(container.get(probe));
                if (!p.isEmpty()) {
                    probeOneHandler(p, at + "." + probe, f);
                    probePortDeclared(p, portNames, at + "." + probe, f);
                }
            }
        }
        selectorMatchesTemplate(deployment, f);
    }

    static void checkService(Manifest service, List<Manifest> all, Findings f) {
        Optional<Manifest> target = selectedDeployment(service, all);
        if (target.isEmpty()) {
            f.fail("spec.selector", "kubernetes/service-selects", "selects the pods of no Deployment under deploy/");
            return;
        }
        targetPortsDeclared(service, target.get(), f);
    }

    /** A probe has exactly one handler (the API server refuses others). */
    static void probeOneHandler(Map<String, Object> probe, String path, Findings f) {
        List<String> handlers = PROBE_HANDLERS.stream().filter(probe::containsKey).toList();
        if (handlers.size() != 1) {
            f.fail(path, "kubernetes/probe-one-handler", "expected exactly one of " + PROBE_HANDLERS + ", got " + handlers);
        }
    }

    /** A probe's named port is one the container declares. */
    static void probePortDeclared(Map<String, Object> probe, Set<String> portNames, String path, Findings f) {
        for (String handler : List.of("httpGet", "tcpSocket", "grpc")) {
            Object port = Node.map(probe.get(handler)).get("port");
            if (port instanceof String name && !portNames.contains(name)) {
                f.fail(path + "." + handler + ".port", "kubernetes/probe-port",
                        "no container port named " + name + " (declared: " + portNames + ")");
            }
        }
    }

    /** The Deployment's selector matches its own pod template (the API server refuses others). */
    static void selectorMatchesTemplate(Manifest deployment, Findings f) {
        Map<String, Object> selector = Node.map(deployment.body(), "spec", "selector", "matchLabels");
        Map<String, Object> labels = Node.map(deployment.body(), "spec", "template", "metadata", "labels");
        if (selector.isEmpty() || !labels.entrySet().containsAll(selector.entrySet())) {
            f.fail("spec.selector.matchLabels", "kubernetes/deployment-selector",
                    "must match spec.template.metadata.labels " + labels);
        }
    }

    /** Each Service port's targetPort is a port the selected pods declare (by name or number). */
    static void targetPortsDeclared(Manifest service, Manifest deployment, Findings f) {
        List<Map<String, Object>> declared = Node.list(Node.map(deployment.body(), "spec", "template", "spec")
                .get("containers")).stream().flatMap(c -> Node.list(Node.map(c).get("ports")).stream())
                .map(Node::map).toList();
        List<Object> ports = Node.list(Node.map(service.body(), "spec").get("ports"));
        for (int i = 0; i < ports.size(); i++) {
            Map<String, Object> port = Node.map(ports.get(i));
            Object target = port.getOrDefault("targetPort", port.get("port"));
            boolean found = declared.stream().anyMatch(d -> target instanceof String name
                    ? name.equals(d.get("name"))
                    : Node.integer(target).equals(Node.integer(d.get("containerPort"))));
            if (!found) {
                f.fail("spec.ports[" + i + "].targetPort", "kubernetes/service-target-port",
                        "no container port " + target + " in Deployment " + deployment.name());
            }
        }
    }

    /** The Deployment under deploy/ whose pods the Service selects. */
    static Optional<Manifest> selectedDeployment(Manifest service, List<Manifest> all) {
        Map<String, Object> selector = Node.map(service.body(), "spec", "selector");
        return all.stream().filter(m -> m.is("apps/v1", "Deployment"))
                .filter(d -> !selector.isEmpty() && Node.map(d.body(), "spec", "template", "metadata", "labels")
                        .entrySet().containsAll(selector.entrySet()))
                .findFirst();
    }
}
