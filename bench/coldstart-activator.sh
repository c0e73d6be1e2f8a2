#!/usr/bin/env bash
# Cold start through the simulated Knative activator: time from "no replica" to the first CONNACK over WebSocket.
# Runs dev.tether.knative.ActivatorColdStart (src/test) with the test class path: the KnativeSimulator proxy holds
# a ws:// connection while it starts a replica (the packaged jar, on the JDK running this script, against one
# PostgreSQL that the first, uncounted round starts and migrates), then routes it. Bounded: ROUNDS rounds (default 3),
# each waiting at most 120 s.
#
#   ./mvnw package -DskipTests && ./mvnw -o test-compile   # the jar and the test classes
#   bench/coldstart-activator.sh [ROUNDS]
#
# Compare with bench/coldstart.sh (launch to ready of the same jar): the difference is the activator's readiness
# probing, the WebSocket upgrade and the CONNECT.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
ROUNDS="${1:-3}"
if ! [[ "$ROUNDS" =~ ^[0-9]+$ ]] || [ "$ROUNDS" -lt 1 ] || [ "$ROUNDS" -gt 20 ]; then echo "ROUNDS must be 1..20" >&2; exit 2; fi
[ -f target/quarkus-app/quarkus-run.jar ] || { echo "no target/quarkus-app/quarkus-run.jar: ./mvnw package -DskipTests" >&2; exit 2; }
[ -f target/test-classes/dev/tether/knative/ActivatorColdStart.class ] || { echo "no test classes: ./mvnw -o test-compile" >&2; exit 2; }
CP_FILE=target/bench-test-classpath.txt
[ -f "$CP_FILE" ] && [ "$CP_FILE" -nt pom.xml ] || ./mvnw -q -o dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile="$CP_FILE" >/dev/null
exec timeout $((ROUNDS * 150 + 120)) java -cp "target/test-classes:target/classes:$(cat "$CP_FILE")" \
  -Djava.util.logging.manager=org.jboss.logmanager.LogManager \
  dev.tether.knative.ActivatorColdStart "$ROUNDS"
