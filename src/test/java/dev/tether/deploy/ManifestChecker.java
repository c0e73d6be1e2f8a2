package dev.tether.deploy;

import java.util.List;

/** Applies the rules that fit each manifest's kind, with every manifest of {@code deploy/} at hand (Secrets). */
final class ManifestChecker {

    private final List<Manifest> all;
    private final TetherRules tether;

    ManifestChecker(List<Manifest> all, ConfigKeys keys) {
        this.all = List.copyOf(all);
        this.tether = new TetherRules(keys, this.all);
    }

    List<Violation> checkAll() {
        return all.stream().flatMap(m -> check(m).stream()).toList();
    }

    List<Violation> check(Manifest manifest) {
        Findings f = new Findings(manifest);
        named(manifest, f);
        if (manifest.is("serving.knative.dev/v1", "Service")) {
            KnativeRules.check(manifest, f);
            tether.checkKnativeService(manifest, f);
        } else if (manifest.is("apps/v1", "Deployment")) {
            KubernetesRules.checkDeployment(manifest, f);
            tether.checkDeployment(manifest, f);
        } else if (manifest.is("v1", "Service")) {
            KubernetesRules.checkService(manifest, all, f);
            TetherRules.checkService(manifest, f);
        } else if (!manifest.is("v1", "Secret") && !manifest.is("networking.k8s.io/v1", "NetworkPolicy")) {
            f.fail("kind", "manifest/known-kind", "no rules for " + manifest.apiVersion() + " " + manifest.kind()
                    + ": add them to dev.tether.deploy before shipping it");
        }
        return f.violations();
    }

    /** Every object has a name. */
    static void named(Manifest manifest, Findings f) {
        if (manifest.name().isBlank()) {
            f.fail("metadata.name", "manifest/named", "missing");
        }
    }
}
