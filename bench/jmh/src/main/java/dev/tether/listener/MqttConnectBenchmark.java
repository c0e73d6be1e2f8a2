package dev.tether.listener;

import java.util.concurrent.TimeUnit;

import io.netty.buffer.ByteBuf;
import io.netty.handler.codec.mqtt.MqttConnectMessage;
import io.netty.handler.codec.mqtt.MqttMessage;
import io.netty.handler.codec.mqtt.MqttProperties;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * An MQTT 5 CONNECT with six properties (see {@link Codec#connect}): decode and encode through Netty's
 * MqttDecoder / MqttEncoder, and Tether's {@link FirstPacketGuard#inspect} (the duplicate-property scan that runs
 * ahead of the decoder on each connection's first packet; package-private, hence this package name).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
public class MqttConnectBenchmark {

    private Codec codec;
    private MqttConnectMessage connect;
    private ByteBuf connectBytes;

    @Setup(Level.Trial)
    public void setUp() {
        codec = new Codec();
        connect = Codec.connect();
        connectBytes = codec.encode(connect);
        MqttMessage c = codec.decode(connectBytes);
        Codec.check(c instanceof MqttConnectMessage cm && cm.payload().clientIdentifier().equals(Codec.CLIENT_ID)
                && cm.variableHeader().properties().listAll().size() == 5 // both User Properties in one entry
                && ((MqttProperties.UserProperties) cm.variableHeader().properties()
                        .getProperty(MqttProperties.MqttPropertyType.USER_PROPERTY.value())).value().size() == 2,
                "CONNECT round trip: " + c);
        Codec.check(FirstPacketGuard.inspect(connectBytes) == FirstPacketGuard.CLEAN, "inspect says CLEAN");
        System.out.printf("%n[MqttConnectBenchmark] CONNECT: %d bytes on the wire%n", connectBytes.readableBytes());
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        connectBytes.release();
        codec.close();
    }

    @Benchmark
    public Object decodeConnect() {
        // A decoded CONNECT holds no buffers (its payload is Strings and byte[]s): nothing to release.
        return codec.decode(connectBytes);
    }

    @Benchmark
    public int encodeConnect() {
        ByteBuf out = codec.encode(connect);
        int n = out.readableBytes();
        out.release();
        return n;
    }

    @Benchmark
    public int firstPacketGuardInspect() {
        return FirstPacketGuard.inspect(connectBytes);
    }
}
