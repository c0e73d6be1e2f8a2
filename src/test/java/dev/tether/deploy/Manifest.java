package dev.tether.deploy;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;

/**
 * One YAML document of a file under {@code deploy/}: {@code document} counts from 1 within its file; {@code body} is
 * SnakeYAML's tree of it (maps, lists, scalars), which the negative tests change in place.
 */
record Manifest(String file, int document, Map<String, Object> body) {

    String kind() {
        return Node.string(body.get("kind"));
    }

    String apiVersion() {
        return Node.string(body.get("apiVersion"));
    }

    String name() {
        return Node.string(Node.map(body.get("metadata")).get("name"));
    }

    boolean is(String apiVersion, String kind) {
        return apiVersion.equals(apiVersion()) && kind.equals(kind());
    }

    /** Every document of every {@code *.yaml} / {@code *.yml} file under {@code dir}, files in path order. */
    static List<Manifest> readAll(Path dir) {
        return parseAll(readTexts(dir));
    }

    /** The text of every {@code *.yaml} / {@code *.yml} file under {@code dir}, by path (as given: deploy/...). */
    static Map<String, String> readTexts(Path dir) {
        Map<String, String> texts = new LinkedHashMap<>();
        try (Stream<Path> files = Files.walk(dir)) {
            for (Path file : files.filter(p -> p.toString().endsWith(".yaml") || p.toString().endsWith(".yml"))
                    .sorted().toList()) {
                texts.put(file.toString(), Files.readString(file));
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return texts;
    }

    /** The documents of several files, given as path to text. */
    static List<Manifest> parseAll(Map<String, String> texts) {
        List<Manifest> all = new ArrayList<>();
        texts.forEach((file, text) -> all.addAll(parse(file, text)));
        return all;
    }

    /** The documents of one YAML text (empty documents are skipped but still counted). */
    static List<Manifest> parse(String file, String yaml) {
        List<Manifest> documents = new ArrayList<>();
        int index = 0;
        for (Object document : new Yaml(new SafeConstructor(new LoaderOptions())).loadAll(yaml)) {
            index++;
            if (document == null) {
                continue;
            }
            if (!(document instanceof Map<?, ?>)) {
                throw new IllegalArgumentException(file + " document " + index + " is not a mapping");
            }
            documents.add(new Manifest(file, index, Node.map(document)));
        }
        return documents;
    }

    @Override
    public String toString() {
        return file + " #" + document + " (" + kind() + " " + name() + ")";
    }
}
