import java.io.IOException;
import java.io.InputStream;
import java.io.StringReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Enumeration;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.jar.JarFile;
import java.util.jar.Manifest;
import java.util.regex.Pattern;
import java.util.zip.ZipEntry;

/**
 * Does the part of the {@code native-image} driver that deploy/native/check.sh needs: turns Quarkus's
 * {@code target/native-sources/native-image.args} (written for the driver) into the arguments of the builder
 * ({@code NativeImageGeneratorRunner}), which no launcher on Maven Central provides for GraalVM 25.
 *
 * <p>As the driver does: {@code --name=value} API options become the hosted options they stand for,
 * {@code -jar} puts the jar and its manifest {@code Class-Path} on the image class path and takes its
 * {@code Main-Class} and {@code Add-Opens}, every {@code META-INF/native-image/**}{@code /native-image.properties} on that path adds its
 * {@code Args}, and every configuration file there ({@code reflect-config.json}, ...) is passed as a resource
 * unless an {@code --exclude-config} matches it. An option it does not know stops it, so nothing is dropped
 * silently.
 *
 * <p>Run with Java 25 as a source file: {@code java BuilderArgs.java <native-sources> <out-dir>}; writes
 * {@code builder.args} (builder arguments) and {@code jvm.args} (builder JVM options), one per line.
 */
public class BuilderArgs {

    private static final Map<String, String> CONFIG_FILES = Map.of(
            "reflect-config.json", "ReflectionConfigurationResources",
            "resource-config.json", "ResourceConfigurationResources",
            "proxy-config.json", "DynamicProxyConfigurationResources",
            "jni-config.json", "JNIConfigurationResources",
            "serialization-config.json", "SerializationConfigurationResources",
            "reachability-metadata.json", "ReachabilityMetadataResources");

    private record Exclusion(Pattern jar, Pattern resource) {}

    private final Path sources;
    private final List<String> builder = new ArrayList<>();
    private final List<String> jvm = new ArrayList<>();
    private final List<Exclusion> exclusions = new ArrayList<>();
    private final Set<String> configResources = new LinkedHashSet<>();
    private final List<Path> classPath = new ArrayList<>();
    private String imageName;

    private BuilderArgs(Path sources) {
        this.sources = sources;
    }

    public static void main(String[] args) throws IOException {
        Path sources = Path.of(args[0]).toAbsolutePath();
        Path out = Path.of(args[1]);
        BuilderArgs b = new BuilderArgs(sources);
        b.accept(List.of(Files.readString(sources.resolve("native-image.args")).trim().split("\\s+")), true);
        for (Path jar : b.classPath) {
            b.scanMetaInf(jar);
        }
        b.configResources.forEach(b.builder::add);
        b.builder.add("-imagecp");
        b.builder.add(String.join(":", b.classPath.stream().map(Path::toString).toList()));
        b.builder.add("-H:Name=" + b.imageName);
        Files.write(out.resolve("builder.args"), b.builder);
        Files.write(out.resolve("jvm.args"), b.jvm);
    }

    /** Arguments from the command line ({@code topLevel}) or from a jar's {@code native-image.properties}. */
    private void accept(List<String> args, boolean topLevel) throws IOException {
        for (int i = 0; i < args.size(); i++) {
            String a = args.get(i);
            if (a.isEmpty()) {
                continue;
            }
            if (a.startsWith("-J")) {
                jvm.add(a.substring(2));
            } else if (a.startsWith("-D")) {
                jvm.add(a);
            } else if (a.startsWith("-H:") || a.startsWith("-R:")) {
                builder.add(a);
            } else if (a.equals("-jar") && topLevel) {
                jar(sources.resolve(args.get(++i)));
            } else if (a.equals("--exclude-config")) {
                exclusions.add(new Exclusion(Pattern.compile(args.get(i + 1)), Pattern.compile(args.get(i + 2))));
                i += 2;
            } else if (a.startsWith("--")) {
                apiOption(a);
            } else if (!a.startsWith("-") && topLevel && imageName == null) {
                imageName = a;
            } else {
                throw new IllegalArgumentException("not handled by BuilderArgs: " + a);
            }
        }
    }

    /** The driver's API options that Quarkus and the libraries on Tether's class path use. */
    private void apiOption(String a) {
        int eq = a.indexOf('=');
        String name = eq < 0 ? a.substring(2) : a.substring(2, eq);
        String value = eq < 0 ? "" : a.substring(eq + 1);
        switch (name) {
            case "features" -> builder.add("-H:Features=" + value);
            case "initialize-at-run-time" -> builder.add("-H:ClassInitialization=" + suffixed(value, ":run_time"));
            case "initialize-at-build-time" -> builder.add("-H:ClassInitialization=" + suffixed(value, ":build_time"));
            case "link-at-build-time" -> builder.add("-H:LinkAtBuildTime=" + value);
            case "enable-url-protocols" -> builder.add("-H:EnableURLProtocols=" + value);
            case "enable-monitoring" -> builder.add("-H:EnableMonitoringFeatures=" + value);
            case "enable-native-access" -> builder.add("-H:EnableNativeAccess=" + value);
            case "no-fallback" -> builder.add("-H:FallbackThreshold=0");
            default -> throw new IllegalArgumentException("API option not handled by BuilderArgs: " + a);
        }
    }

    private static String suffixed(String classes, String suffix) {
        return String.join(",", List.of(classes.split(",")).stream().map(c -> c + suffix).toList());
    }

    private void jar(Path jar) throws IOException {
        classPath.add(jar);
        try (JarFile f = new JarFile(jar.toFile())) {
            Manifest m = f.getManifest();
            builder.add("-H:Class=" + m.getMainAttributes().getValue("Main-Class"));
            // The driver gives the builder the manifest's Add-Opens/Add-Exports (Quarkus's runner jar opens
            // java.base/java.lang for jboss-threads, whose class initialiser needs it on JDK 24+).
            for (String kind : List.of("Add-Opens", "Add-Exports")) {
                String packages = m.getMainAttributes().getValue(kind);
                if (packages != null) {
                    for (String p : packages.trim().split("\\s+")) {
                        jvm.add("--" + kind.toLowerCase() + "=" + p + "=ALL-UNNAMED");
                    }
                }
            }
            String cp = m.getMainAttributes().getValue("Class-Path");
            if (cp != null) {
                for (String entry : cp.trim().split("\\s+")) {
                    classPath.add(jar.getParent().resolve(entry));
                }
            }
        }
    }

    private void scanMetaInf(Path jar) throws IOException {
        try (JarFile f = new JarFile(jar.toFile())) {
            for (Enumeration<? extends ZipEntry> e = f.entries(); e.hasMoreElements(); ) {
                ZipEntry entry = e.nextElement();
                String name = entry.getName();
                if (!name.startsWith("META-INF/native-image/") || entry.isDirectory()) {
                    continue;
                }
                String file = name.substring(name.lastIndexOf('/') + 1);
                if (file.equals("native-image.properties")) {
                    Properties p = new Properties();
                    try (InputStream in = f.getInputStream(entry)) {
                        p.load(new StringReader(new String(in.readAllBytes())));
                    }
                    String props = p.getProperty("Args", "").trim();
                    if (!props.isEmpty()) {
                        accept(List.of(props.split("\\s+")), false);
                    }
                    String javaArgs = p.getProperty("JavaArgs", "").trim();
                    if (!javaArgs.isEmpty()) {
                        jvm.addAll(List.of(javaArgs.split("\\s+")));
                    }
                } else if (CONFIG_FILES.containsKey(file) && !excluded(jar, "/" + name)) {
                    configResources.add("-H:" + CONFIG_FILES.get(file) + "=" + name);
                }
            }
        }
    }

    private boolean excluded(Path jar, String resource) {
        return exclusions.stream().anyMatch(x -> x.jar().matcher(jar.toString()).find() && x.resource().matcher(resource).find());
    }
}
