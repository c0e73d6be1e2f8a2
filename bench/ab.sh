#!/usr/bin/env bash
# A/B of two Tether builds on one load-generator case, alternating A and B for N rounds (fresh broker and embedded
# PostgreSQL each time), so that both see the same machine noise. Prints each side's runs and median.
#
#   bench/ab.sh /path/to/checkout-A /path/to/checkout-B throughput --qos 1 --mode fanout --size 4096 \
#       --duration 6 --warmup 10 --publishers 8 --subscribers 32
#
# Each checkout must be built (./mvnw package -DskipTests); the load generator is this tree's
# (./mvnw -f bench/pom.xml -pl loadgen -am package). ROUNDS (default 3), HEAP (default 1g). Loopback only; every run
# is bounded (120 s).
set -euo pipefail
[ $# -ge 3 ] || { sed -n '2,12p' "$0"; exit 2; }
A="$1"; B="$2"; shift 2
BENCH_DIR="$(cd "$(dirname "$0")" && pwd)"
LOADGEN="$BENCH_DIR/loadgen/target/loadgen.jar"
: "${ROUNDS:=3}" "${HEAP:=1g}" "${MQTT_PORT:=18841}" "${PG_PORT:=15443}" "${HTTP_PORT:=18090}" "${CLUSTER_PORT:=18842}"
OUT="$(mktemp -d /tmp/tether-ab.XXXXXX)"
for side in A B; do
  root="$A"; [ "$side" = B ] && root="$B"
  [ -f "$root/target/quarkus-app/quarkus-run.jar" ] || { echo "$root is not built" >&2; exit 2; }
done
for round in $(seq 1 "$ROUNDS"); do
  for side in A B; do
    root="$A"; [ "$side" = B ] && root="$B"
    dir="$(mktemp -d /tmp/tether-ab-broker.XXXXXX)"
    java -Xms"$HEAP" -Xmx"$HEAP" -Dtether.mqtt.host=127.0.0.1 -Dtether.mqtt.port="$MQTT_PORT" \
      -Dtether.embedded-postgres.data-dir="$dir/pg" -Dtether.embedded-postgres.port="$PG_PORT" \
      -Dtether.instance.state-dir="$dir" -Dquarkus.http.host=127.0.0.1 -Dquarkus.http.port="$HTTP_PORT" \
      -Dtether.cluster.port="$CLUSTER_PORT" \
      -jar "$root/target/quarkus-app/quarkus-run.jar" >"$OUT/$side-$round.log" 2>&1 &
    pid=$!
    for _ in $(seq 1 300); do (exec 3<>/dev/tcp/127.0.0.1/"$MQTT_PORT") 2>/dev/null && break; sleep 0.2; done
    timeout 120 java -Xms512m -Xmx2g -jar "$LOADGEN" "$@" --case "$side" --broker tether --port "$MQTT_PORT" \
      --pid "$pid" --pg-data "$dir/pg" --jdbc "jdbc:postgresql://127.0.0.1:$PG_PORT/postgres" --jvm true \
      --out "$OUT/ab.jsonl" >/dev/null 2>&1 || echo "round $round $side: load generator failed" >&2
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    pm="$(head -1 "$dir/pg/postmaster.pid" 2>/dev/null || true)"
    if [ -n "$pm" ]; then
      kill -INT "$pm" 2>/dev/null || true
      for _ in $(seq 1 100); do kill -0 "$pm" 2>/dev/null || break; sleep 0.1; done
    fi
    rm -rf "$dir"
  done
done
python3 - "$OUT/ab.jsonl" "$A" "$B" <<'PY'
import json, statistics, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
for side, root in (("A", sys.argv[2]), ("B", sys.argv[3])):
    mine = [r["metrics"] for r in rows if r["case"] == side and r.get("ok")]
    if not mine:
        print(side, root, "no successful run"); continue
    for key in ("delivered_per_s", "broker_cpu_us_per_op", "latency_p99_ms"):
        values = [m[key] for m in mine if key in m]
        if values:
            print(f"{side} {key:22s} median {statistics.median(values):12.2f}  runs {[round(v, 2) for v in values]}  ({root})")
PY
echo "JSON lines and broker logs: $OUT"
