package dev.tether.deploy;

import java.util.ArrayList;
import java.util.List;

/** The violations found in one manifest, each naming its field and rule. */
final class Findings {

    private final Manifest manifest;
    private final List<Violation> violations = new ArrayList<>();

    Findings(Manifest manifest) {
        this.manifest = manifest;
    }

    void fail(String field, String rule, String message) {
        violations.add(new Violation(manifest.file(), manifest.document(), field, rule, message));
    }

    List<Violation> violations() {
        return List.copyOf(violations);
    }
}
