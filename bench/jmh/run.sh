#!/usr/bin/env bash
# JMH microbenchmarks of Tether's hot paths: SubscriptionIndex matching and put/remove (100,000 subscriptions),
# Netty's MQTT codec on MQTT 5 PUBLISH (64 B / 4 KiB) and CONNECT plus FirstPacketGuard.inspect, and
# Reconciler.runs on 512-event batches. Builds the broker's jar into the local Maven repository, builds
# bench/jmh/target/benchmarks.jar, runs it and prints JMH's table (also saved as bench/jmh/target/jmh-result.json).
#
#   bench/jmh/run.sh                      full run: 2 forks x 5 x 2 s measurement (~15 min on 2 cores)
#   bench/jmh/run.sh --quick              short, noisy run: 1 fork, 2 x 1 s warm-up, 3 x 1 s measurement (~3 min)
#   bench/jmh/run.sh --skip-build ...     reuse the jars already built
#   bench/jmh/run.sh --quick SubscriptionIndex        anything else goes to JMH (a benchmark regex, -p, -prof gc, ...)
set -euo pipefail

JMH_DIR="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$JMH_DIR/../.." && pwd)"

quick=false
build=true
args=()
for a in "$@"; do
  case "$a" in
    --quick) quick=true ;;
    --skip-build) build=false ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) args+=("$a") ;;
  esac
done

if $build; then
  echo "==> building Tether (mvnw install -DskipTests) into the local Maven repository"
  (cd "$ROOT" && ./mvnw -q -B install -DskipTests)
  if ! unzip -l "$ROOT/target/tether-0.1.0-SNAPSHOT.jar" | grep -q 'dev/tether/routing/SubscriptionIndex.class'; then
    echo "target/tether-0.1.0-SNAPSHOT.jar has no dev/tether/routing classes: cannot benchmark" >&2
    exit 1
  fi
  echo "==> building bench/jmh/target/benchmarks.jar"
  "$ROOT/mvnw" -q -B -f "$JMH_DIR/pom.xml" package
fi

if $quick; then
  opts=(-f 1 -wi 2 -i 3 -w 1s -r 1s)
else
  opts=(-f 2 -wi 5 -i 5 -w 2s -r 2s)
fi

echo "==> java -jar benchmarks.jar ${opts[*]} ${args[*]:-}"
$quick && echo "    (--quick: one short fork on a shared machine; figures are indicative only)"
java -jar "$JMH_DIR/target/benchmarks.jar" "${opts[@]}" -foe true \
  -rf json -rff "$JMH_DIR/target/jmh-result.json" "${args[@]+"${args[@]}"}" | tee "$JMH_DIR/target/jmh-output.txt" \
  | awk '/^Benchmark  /{t=1} t || /^# Benchmark:|^# Parameters:|^\[|Exception|ERROR/{print; fflush()}'
