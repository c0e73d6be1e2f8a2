package dev.tether.deploy;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The environment a container gets: its {@code envFrom} Secrets' keys (read from the Secrets defined under
 * {@code deploy/}) and its {@code env} entries, later ones winning as in Kubernetes.
 */
final class ContainerEnv {

    /** Where a variable gets its value from. */
    enum Source { VALUE, SECRET, CONFIG_MAP, FIELD_REF, OTHER }

    /** One variable: {@code field} is where the manifest sets it. */
    record Variable(String name, Source source, String value, String field) {
    }

    private final List<Variable> declared;
    private final List<String> missingSecrets;

    private ContainerEnv(List<Variable> declared, List<String> missingSecrets) {
        this.declared = List.copyOf(declared);
        this.missingSecrets = List.copyOf(missingSecrets);
    }

    static ContainerEnv of(Map<String, Object> container, String path, List<Manifest> all) {
        List<Variable> declared = new ArrayList<>();
        List<String> missing = new ArrayList<>();
        List<Object> envFrom = Node.list(container.get("envFrom"));
        for (int i = 0; i < envFrom.size(); i++) {
            Map<String, Object> from = Node.map(envFrom.get(i));
            String prefix = Node.string(from.get("prefix"));
            String field = path + ".envFrom[" + i + "]";
            String secret = Node.string(Node.map(from, "secretRef").get("name"));
            if (!secret.isEmpty()) {
                Optional<Manifest> defined = all.stream().filter(m -> m.is("v1", "Secret") && m.name().equals(secret))
                        .findFirst();
                if (defined.isEmpty()) {
                    missing.add(secret);
                }
                defined.ifPresent(m -> secretKeys(m).forEach(
                        key -> declared.add(new Variable(prefix + key, Source.SECRET, null, field + " (Secret " + secret + ")"))));
            }
        }
        List<Object> env = Node.list(container.get("env"));
        for (int i = 0; i < env.size(); i++) {
            Map<String, Object> variable = Node.map(env.get(i));
            Map<String, Object> valueFrom = Node.map(variable.get("valueFrom"));
            Source source = valueFrom.isEmpty() ? Source.VALUE
                    : valueFrom.containsKey("secretKeyRef") ? Source.SECRET
                    : valueFrom.containsKey("configMapKeyRef") ? Source.CONFIG_MAP
                    : valueFrom.containsKey("fieldRef") ? Source.FIELD_REF : Source.OTHER;
            declared.add(new Variable(Node.string(variable.get("name")), source,
                    source == Source.VALUE ? Node.string(variable.get("value")) : null, path + ".env[" + i + "]"));
        }
        return new ContainerEnv(declared, missing);
    }

    private static List<String> secretKeys(Manifest secret) {
        List<String> keys = new ArrayList<>(Node.map(secret.body().get("data")).keySet());
        keys.addAll(Node.map(secret.body().get("stringData")).keySet());
        return keys;
    }

    /** Every variable as declared (a name may appear twice: envFrom, then env). */
    List<Variable> declared() {
        return declared;
    }

    /** Secrets named in envFrom that no manifest under deploy/ defines. */
    List<String> missingSecrets() {
        return missingSecrets;
    }

    /** The variable that wins for {@code name}. */
    Optional<Variable> get(String name) {
        Map<String, Variable> effective = new LinkedHashMap<>();
        declared.forEach(v -> effective.put(v.name(), v));
        return Optional.ofNullable(effective.get(name));
    }

    /** The value a key has in this container: a plain env value, else its default (empty when neither). */
    Optional<String> valueOf(String key, ConfigKeys keys) {
        Optional<Variable> set = get(ConfigKeys.envName(key));
        if (set.isPresent()) {
            return Optional.ofNullable(set.get().value());
        }
        return keys.defaultValue(key);
    }
}
