package dev.tether.listener;

import java.util.concurrent.TimeUnit;

import io.netty.buffer.ByteBuf;
import io.netty.handler.codec.mqtt.MqttPublishMessage;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * Decode and encode of an MQTT 5 QoS 1 PUBLISH with four properties (see {@link Codec#publish}) and a 64-byte or
 * 4 KiB payload, through Netty's MqttDecoder / MqttEncoder on EmbeddedChannels. Each decode feeds a retained
 * duplicate of the pre-encoded bytes and releases the decoded message; each encode releases its output.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
public class MqttPublishCodecBenchmark {

    @Param({"64", "4096"})
    public int payloadSize;

    private Codec codec;
    private MqttPublishMessage publish;
    private ByteBuf publishBytes;

    @Setup(Level.Trial)
    public void setUp() {
        codec = new Codec();
        publish = Codec.publish(payloadSize);
        publishBytes = codec.encode(publish);
        MqttPublishMessage p = (MqttPublishMessage) codec.decode(publishBytes);
        Codec.check(p.variableHeader().topicName().equals(Codec.TOPIC)
                && p.payload().readableBytes() == payloadSize
                && p.variableHeader().properties().listAll().size() == 4, "PUBLISH round trip");
        p.release();
        System.out.printf("%n[MqttPublishCodecBenchmark] PUBLISH with %d-byte payload: %d bytes on the wire%n",
                payloadSize, publishBytes.readableBytes());
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        publish.release();
        publishBytes.release();
        codec.close();
    }

    @Benchmark
    public int decodePublish() {
        MqttPublishMessage m = (MqttPublishMessage) codec.decode(publishBytes);
        int n = m.payload().readableBytes();
        m.release();
        return n;
    }

    @Benchmark
    public int encodePublish() {
        ByteBuf out = codec.encode(publish);
        int n = out.readableBytes();
        out.release();
        return n;
    }
}
