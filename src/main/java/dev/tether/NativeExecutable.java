package dev.tether;

/**
 * Whether Tether runs as the native executable. The class is initialised while the native image is built
 * ({@code META-INF/native-image/dev.tether/tether/native-image.properties}), when the builder has set
 * {@code org.graalvm.nativeimage.imagecode}: {@link #RUNNING} is then the constant {@code true} in the image,
 * and the builder leaves out code that runs only when it is {@code false} (the embedded PostgreSQL). On the
 * JVM the property is unset and {@link #RUNNING} is {@code false}.
 */
final class NativeExecutable {

    static final boolean RUNNING = System.getProperty("org.graalvm.nativeimage.imagecode") != null;

    private NativeExecutable() {
    }
}
