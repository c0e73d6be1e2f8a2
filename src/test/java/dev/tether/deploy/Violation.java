package dev.tether.deploy;

/** A rule that a manifest breaks: where (file, document, field), which rule, and why. */
record Violation(String file, int document, String field, String rule, String message) {

    @Override
    public String toString() {
        return file + " #" + document + " " + field + ": [" + rule + "] " + message;
    }
}
