package dev.tether.deploy;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import io.smallrye.config.WithName;
import io.smallrye.config.WithParentName;
import io.smallrye.config.common.utils.StringUtil;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.Type;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The configuration keys Tether reads, to tell whether an environment variable of a manifest sets one.
 *
 * <p>Tether's keys come from its own code: every {@code @ConfigMapping} interface of {@code dev.tether.config} (prefix
 * plus each method's name in kebab case, or its {@code @WithName}), the key constants of that package
 * ({@code EmbeddedPostgresConfig}), and the {@code @ConfigProperty(name = ...)} and {@code ${tether....}} expressions of
 * {@code src/main/java}. Quarkus's keys are accepted by their config roots ({@link #QUARKUS_ROOTS}). An environment
 * variable sets a key when it equals the key with every non-alphanumeric character replaced by {@code _}, upper case:
 * SmallRye Config's rule for environment variables, applied with its own {@link StringUtil}.
 */
final class ConfigKeys {

    /** The Quarkus config roots a Tether deployment may set. */
    static final List<String> QUARKUS_ROOTS = List.of(
            "quarkus.datasource.", "quarkus.http.", "quarkus.tls.", "quarkus.log.");

    private static final Pattern CONFIG_PROPERTY = Pattern.compile("@ConfigProperty\\(name\\s*=\\s*\"([^\"]+)\"");
    private static final Pattern EXPRESSION = Pattern.compile("\\$\\{(tether\\.[a-z0-9.-]+)[:}]");

    /** Tether's keys, each with its default (empty when it has none). */
    private final Map<String, Optional<String>> tetherKeys;
    /** {@code application.properties} without profile-specific lines. */
    private final Properties applicationProperties;

    private ConfigKeys(Map<String, Optional<String>> tetherKeys, Properties applicationProperties) {
        this.tetherKeys = Map.copyOf(tetherKeys);
        this.applicationProperties = applicationProperties;
    }

    static ConfigKeys ofTether() {
        Map<String, Optional<String>> keys = new HashMap<>();
        for (Class<?> type : configClasses()) {
            ConfigMapping mapping = type.getAnnotation(ConfigMapping.class);
            if (mapping != null) {
                addMapping(mapping.prefix(), type, keys);
            }
            for (var field : type.getDeclaredFields()) {
                if (Modifier.isStatic(field.getModifiers()) && field.getType() == String.class) {
                    String value = staticString(field);
                    if (value.startsWith("tether.")) {
                        keys.putIfAbsent(value, Optional.empty());
                    }
                }
            }
        }
        for (String key : keysNamedInSources(Path.of("src/main/java"))) {
            keys.putIfAbsent(key, Optional.empty());
        }
        return new ConfigKeys(keys, applicationProperties());
    }

    /** The environment variable that sets {@code key}. */
    static String envName(String key) {
        return StringUtil.replaceNonAlphanumericByUnderscores(key).toUpperCase();
    }

    /** The Tether key {@code envName} sets, if any. */
    Optional<String> tetherKey(String envName) {
        return tetherKeys.keySet().stream().filter(k -> envName(k).equals(envName)).findFirst();
    }

    boolean isQuarkusKey(String envName) {
        return QUARKUS_ROOTS.stream().map(ConfigKeys::envName)
                .anyMatch(root -> envName.startsWith(root) && envName.length() > root.length());
    }

    boolean isKnown(String envName) {
        return tetherKey(envName).isPresent() || isQuarkusKey(envName);
    }

    /** The value {@code key} has when nothing sets it: its {@code @WithDefault}, else application.properties. */
    Optional<String> defaultValue(String key) {
        Optional<String> declared = tetherKeys.getOrDefault(key, Optional.empty());
        return declared.isPresent() ? declared : Optional.ofNullable(applicationProperties.getProperty(key));
    }

    private static void addMapping(String prefix, Class<?> type, Map<String, Optional<String>> keys) {
        for (Method method : type.getMethods()) {
            if (method.isDefault() || Modifier.isStatic(method.getModifiers()) || method.getParameterCount() > 0) {
                continue;
            }
            String key = method.isAnnotationPresent(WithParentName.class) ? prefix
                    : prefix + "." + (method.isAnnotationPresent(WithName.class)
                            ? method.getAnnotation(WithName.class).value() : StringUtil.skewer(method.getName()));
            Class<?> group = groupType(method.getGenericReturnType());
            if (group != null) {
                addMapping(key, group, keys);
            } else {
                WithDefault withDefault = method.getAnnotation(WithDefault.class);
                keys.put(key, Optional.ofNullable(withDefault).map(WithDefault::value));
            }
        }
    }

    /** The config group a method returns (directly or in an Optional), or null for a leaf value. */
    private static Class<?> groupType(Type type) {
        if (type instanceof ParameterizedType p && p.getRawType() == Optional.class) {
            return groupType(p.getActualTypeArguments()[0]);
        }
        return type instanceof Class<?> c && c.isInterface() && c.getName().startsWith("dev.tether.") ? c : null;
    }

    private static List<Class<?>> configClasses() {
        try {
            Path dir = Path.of(ConfigKeys.class.getClassLoader().getResource("dev/tether/config").toURI());
            try (Stream<Path> files = Files.list(dir)) {
                return files.map(f -> f.getFileName().toString()).filter(n -> n.endsWith(".class"))
                        .map(n -> "dev.tether.config." + n.substring(0, n.length() - ".class".length()))
                        .sorted().<Class<?>>map(ConfigKeys::load).toList();
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    private static Class<?> load(String name) {
        try {
            return Class.forName(name, false, ConfigKeys.class.getClassLoader());
        } catch (ClassNotFoundException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String staticString(java.lang.reflect.Field field) {
        try {
            field.setAccessible(true);
            return String.valueOf(field.get(null));
        } catch (IllegalAccessException e) {
            throw new IllegalStateException(e);
        }
    }

    private static List<String> keysNamedInSources(Path sources) {
        try (Stream<Path> files = Files.walk(sources)) {
            return files.filter(f -> f.toString().endsWith(".java")).flatMap(f -> {
                String text = read(f);
                Stream.Builder<String> found = Stream.builder();
                for (Pattern pattern : List.of(CONFIG_PROPERTY, EXPRESSION)) {
                    Matcher m = pattern.matcher(text);
                    while (m.find()) {
                        found.add(m.group(1));
                    }
                }
                return found.build();
            }).distinct().toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static String read(Path file) {
        try {
            return Files.readString(file);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static Properties applicationProperties() {
        Properties all = new Properties();
        try (InputStream in = ConfigKeys.class.getClassLoader().getResourceAsStream("application.properties")) {
            if (in != null) {
                all.load(in);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        Properties withoutProfiles = new Properties();
        all.stringPropertyNames().stream().filter(k -> !k.startsWith("%"))
                .forEach(k -> withoutProfiles.setProperty(k, all.getProperty(k)));
        return withoutProfiles;
    }
}
