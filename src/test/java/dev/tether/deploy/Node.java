package dev.tether.deploy;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;

/** Reading SnakeYAML's maps and lists without casts at every step: a missing or mistyped node reads as empty. */
final class Node {

    private Node() {
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> map(Object node) {
        return node instanceof Map<?, ?> m ? (Map<String, Object>) m : Map.of();
    }

    @SuppressWarnings("unchecked")
    static List<Object> list(Object node) {
        return node instanceof List<?> l ? (List<Object>) l : List.of();
    }

    /** The map at {@code path} below {@code node} (empty when any step is missing). */
    static Map<String, Object> map(Map<String, Object> node, String... path) {
        Map<String, Object> at = node;
        for (String step : path) {
            at = map(at.get(step));
        }
        return at;
    }

    static String string(Object node) {
        return node == null ? "" : String.valueOf(node);
    }

    /** A whole number given as a YAML integer or a numeric string. */
    static OptionalLong integer(Object node) {
        if (node instanceof Number n) {
            return OptionalLong.of(n.longValue());
        }
        if (node instanceof String s && s.matches("-?\\d+")) {
            return OptionalLong.of(Long.parseLong(s));
        }
        return OptionalLong.empty();
    }

    static Optional<Double> decimal(Object node) {
        try {
            return node == null ? Optional.empty() : Optional.of(Double.parseDouble(string(node)));
        } catch (NumberFormatException e) {
            return Optional.empty();
        }
    }

    static String join(String path, String field) {
        return path.isEmpty() ? field : path + "." + field;
    }
}
