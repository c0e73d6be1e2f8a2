#!/usr/bin/env bash
# Tether benchmark: builds Tether and the bench tools, then runs each case N times (--runs, default 3) against
# Tether (JVM jar, embedded PostgreSQL in a fresh data dir), Mosquitto 2.x and HiveMQ CE (embedded, same heap):
# for each case, for each run, each broker in turn, a fresh broker start each time. Prints one table of the
# medians over the runs with their spread and the Tether/other ratios (table.txt) and writes PNG charts and
# medians.csv beside the JSON lines. Loopback only; every loop is bounded.
#
#   bench/run.sh                 full run (all cases, all three brokers, 3 runs; ~1.5 h on 2 cores)
#   bench/run.sh --smoke         CI smoke: Tether alone, one run, tiny N, a few seconds per case; exit 1 on failure
#   bench/run.sh --brokers tether,mosquitto --cases connect,resume --runs 1   a subset
#   bench/run.sh --skip-build    reuse the built jars
#   bench/run.sh --brokers tether --cases cross-replica   Tether only: two replicas sharing one PostgreSQL, the latency
#                                case with publishers on replica 1 and subscribers on replica 2 vs all on replica 1
#   bench/run.sh --brokers tether,mosquitto --cases connect-auth   durable connects without login, first logins of
#                                AUTH_COLD_N users (Tether: bcrypt cost 10 each), and the same users reconnecting
#   bench/run.sh --cases durable-qos1   QoS 1 one-to-one to online subscribers with durable sessions (Tether commits
#                                every message before its PUBACK)
#   bench/run.sh --brokers tether --cases startup   Tether only: start-up with STARTUP_SESSIONS offline sessions
#                                (STARTUP_QUEUED with a queued message), through bench/startup-sessions.sh if present
#   BROKER_CPUS=0 bench/run.sh ...   every broker under taskset -c 0 (Tether: the JVM; its embedded PostgreSQL gets
#                                PG_CPUS, default this script's CPUs); LOADGEN_CPUS the same for the load generator
#   PROFILE=jfr|async bench/run.sh ...   a JFR recording / async-profiler collapsed CPU stacks of every Tether run
#                                in <results>/profiles/ (see docs/benchmarks.md, Profiles)
# Sizes come from the environment (defaults below), e.g. CONNECT_N=500 IDLE_CONNECTIONS=2000 bench/run.sh
# Expiry: EXPIRY_M sessions for Tether (default 100,000), EXPIRY_M_OTHERS for Mosquitto and HiveMQ CE (default
# 20,000; both also handled 100,000 in about a minute each: EXPIRY_M_OTHERS=100000 for the same M everywhere).
# The table shows which m each broker had.
# At most EXPIRY_MAX_OPEN connections are open at a time (the open-files limit here is 20,000); all sessions
# get one deadline T, set from the measured creation rate (see docs/benchmarks.md).
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$BENCH_DIR/.." && pwd)"

# ---- parameters (each is printed with the results)
: "${HEAP:=1g}"                    # -Xms = -Xmx of Tether and HiveMQ CE (no AlwaysPreTouch)
: "${CONNECT_N:=2000}"             # 1. clients connecting with Clean Start 0, Session Expiry 300
: "${CONNECT_INFLIGHT:=100}"       #    at most this many CONNECTs in flight (Mosquitto's listen backlog)
: "${AUTH_N:=2000}"                # 1b. connect-auth: anonymous connects, and reconnects of the users (warm)
: "${AUTH_COLD_N:=250}"            #     users, each logging in once first (cold); >= CONNECT_INFLIGHT
: "${AUTH_COLD_INFLIGHT:=$CONNECT_INFLIGHT}" #  CONNECTs in flight in the cold phase
: "${AUTH_SOURCES:=per-user}"      #     per-user: each user its own 127.1.x.y; one: all from 127.0.0.1 (one NAT)
: "${DURATION:=6}"                 # 2. measured seconds per throughput case and of the latency case
: "${WARMUP:=10}"                  #    seconds of the same load before them, not counted (rate, latency, CPU):
                                   #    a fresh JVM broker compiles its hot paths in its first seconds
: "${PUBLISHERS:=8}"               #    one-to-one: P publishers to P subscribers
: "${SUBSCRIBERS:=32}"             #    fan-out: 1 publisher to S subscribers
: "${RATE:=5000}"                  #    fixed-rate QoS 1 latency case, msg/s
: "${RESUME_N:=1000}"              # 3. persistent sessions
: "${RESUME_K:=100}"               #    messages queued for each
: "${EXPIRY_M:=100000}"            # 4. sessions expiring at one deadline T, on Tether
: "${EXPIRY_M_OTHERS:=20000}"      #    the same on Mosquitto and HiveMQ CE
: "${EXPIRY_MARGIN:=5}"            #    seconds added to T beyond the estimated end of creation
: "${EXPIRY_MAX_OPEN:=5000}"       #    connections open at a time while creating them
: "${IDLE_CONNECTIONS:=10000}"     # 5. idle connections
: "${IDLE_HOLD:=30}"               #    held this many seconds
: "${STARTUP_SESSIONS:=1000000}"    # 6. offline durable sessions (one subscription each) when Tether starts
: "${STARTUP_QUEUED:=100000}"      #    of them with a queued message
: "${STARTUP_HEAP:=}"              #    Tether's -Xmx there; empty: the JVM's default (as bench/startup-sessions.sh)
: "${LOADGEN_HEAP:=2g}"
: "${BROKER_CPUS:=}"               # taskset -c list for the broker (e.g. 0 or 0,1); empty: not pinned
: "${PG_CPUS:=}"                   #    Tether's embedded PostgreSQL when BROKER_CPUS is set; empty: this script's CPUs
: "${LOADGEN_CPUS:=}"              # taskset -c list for the load generator; empty: not pinned
: "${PROFILE:=}"                   # jfr or async: profile every Tether run into $OUT/profiles; empty: none
: "${ASYNC_PROFILER_VERSION:=4.6}" #    PROFILE=async: tools.profiler:async-profiler from Maven Central
: "${ASYNC_PROFILER_EVENT:=cpu}"   #    its event (cpu, itimer, wall, alloc, ...)
: "${TETHER_PORT:=18831}" "${MOSQUITTO_PORT:=18832}" "${HIVEMQ_PORT:=18833}" "${PG_PORT:=15433}" "${TETHER_HTTP_PORT:=18080}"
# Tether's replica link (CLUSTER_PORT; not the default 7883, which a test run may hold). cross-replica: replica 1 is
# TETHER_PORT/TETHER_HTTP_PORT/CLUSTER_PORT with the embedded PostgreSQL on PG_PORT; replica 2 these
: "${TETHER_PORT2:=18835}" "${TETHER_HTTP_PORT2:=18081}" "${CLUSTER_PORT:=18836}" "${CLUSTER_PORT2:=18837}"

SMOKE=0
SKIP_BUILD=0
RUNS=""
BROKERS="tether,mosquitto,hivemq"
CASES="connect,connect-auth,throughput,durable-qos1,latency,cross-replica,resume,expiry,idle,startup"
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) SMOKE=1; BROKERS=tether ;;
    --skip-build) SKIP_BUILD=1 ;;
    --brokers) BROKERS="$2"; shift ;;
    --cases) CASES="$2"; shift ;;
    --runs) RUNS="$2"; shift ;;
    -h|--help) sed -n '2,29p' "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

if [ -z "$RUNS" ]; then RUNS=$([ "$SMOKE" = 1 ] && echo 1 || echo 3); fi
if ! [[ "$RUNS" =~ ^[0-9]+$ ]] || [ "$RUNS" -lt 1 ] || [ "$RUNS" -gt 20 ]; then
  echo "--runs must be 1..20" >&2; exit 2
fi

case "$PROFILE" in
  ""|jfr|async) ;;
  *) echo "PROFILE must be jfr or async (or empty)" >&2; exit 2 ;;
esac
for v in BROKER_CPUS PG_CPUS LOADGEN_CPUS; do
  if [ -n "${!v}" ] && ! taskset -c "${!v}" true 2>/dev/null; then echo "$v=${!v} is not a usable CPU list" >&2; exit 2; fi
done
[ -n "$PG_CPUS" ] || PG_CPUS="$(taskset -pc $$ | sed 's/.*: //')"

STAMP="$(date +%Y%m%d-%H%M%S)"
OUT="${BENCH_OUT:-$BENCH_DIR/results/$STAMP}"
mkdir -p "$OUT"
WORK="$(mktemp -d /tmp/tether-bench.XXXXXX)"
BROKER_PID=""
BROKER2_PID=""   # cross-replica: Tether's replica 2 (BROKER_PID is replica 1, which owns the embedded PostgreSQL)
BROKER_KIND=""

log() { echo "[bench $(date +%H:%M:%S)] $*" >&2; }

# Many connections: raise the open-files limit for brokers and the load generator (children inherit it).
ulimit -Hn 1048576 2>/dev/null || true
ulimit -n "$(ulimit -Hn)" 2>/dev/null || ulimit -n 65536 2>/dev/null || true
log "ulimit -n $(ulimit -n); results in $OUT"

stop_pid() { # pid: SIGTERM, SIGKILL after 30 s
  local pid="$1"
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      log "broker $pid did not stop in 30 s: SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  wait "$pid" 2>/dev/null || true
}

stop_broker() {
  [ -n "$BROKER_PID" ] || return 0
  local pid="$BROKER_PID"
  BROKER_PID=""
  # Replica 2 first: it uses replica 1's PostgreSQL.
  if [ -n "$BROKER2_PID" ]; then stop_pid "$BROKER2_PID"; BROKER2_PID=""; fi
  stop_pid "$pid"
  # Tether's embedded PostgreSQL survives a SIGKILLed JVM: stop it by its pid file.
  if [ "$BROKER_KIND" = tether ] && [ -f "$BROKER_DIR/pg/postmaster.pid" ]; then
    local pm; pm="$(head -1 "$BROKER_DIR/pg/postmaster.pid")"
    if [ -n "$pm" ] && kill -0 "$pm" 2>/dev/null; then
      kill -INT "$pm" 2>/dev/null || true
      for _ in $(seq 1 100); do kill -0 "$pm" 2>/dev/null || break; sleep 0.1; done
      kill -0 "$pm" 2>/dev/null && kill -KILL "$pm" 2>/dev/null || true
    fi
  fi
}
cleanup() { stop_broker; rm -rf "$WORK"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_port() { # port seconds [pid, default BROKER_PID]
  local end=$((SECONDS + $2)) pid="${3:-$BROKER_PID}"
  while [ $SECONDS -lt $end ]; do
    if ! kill -0 "$pid" 2>/dev/null; then return 1; fi
    if (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null; then return 0; fi
    sleep 0.2
  done
  return 1
}

JVM_FLAGS=(-Xms"$HEAP" -Xmx"$HEAP" -XX:NativeMemoryTracking=summary)

# BROKER_CPUS: the broker's command runs under taskset (children inherit it: see pin_postgres).
BROKER_PIN=()
[ -z "$BROKER_CPUS" ] || BROKER_PIN=(taskset -c "$BROKER_CPUS")
LOADGEN_PIN=()
[ -z "$LOADGEN_CPUS" ] || LOADGEN_PIN=(taskset -c "$LOADGEN_CPUS")

# Tether's embedded PostgreSQL is started by the JVM and inherits its CPUs: give the postmaster and its processes
# PG_CPUS (backends forked later inherit the postmaster's), so that BROKER_CPUS counts the JVM's cores only.
pin_postgres() { # pg-data-dir
  [ -n "$BROKER_CPUS" ] && [ -f "$1/postmaster.pid" ] || return 0
  local pm p
  pm="$(head -1 "$1/postmaster.pid")"
  [ -n "$pm" ] || return 0
  for p in "$pm" $(pgrep -P "$pm" || true); do taskset -a -p -c "$PG_CPUS" "$p" >/dev/null 2>&1 || true; done
}

# PROFILE: JVM flags for one Tether process, written into $OUT/profiles/tether-$RUN_TAG$1.{jfr,collapsed}.
RUN_TAG="run"
ASYNC_LIB=""
profile_flags() { # [suffix]
  local f="$OUT/profiles/tether-$RUN_TAG${1:-}"
  case "$PROFILE" in
    jfr) echo "-XX:StartFlightRecording=filename=$f.jfr,settings=profile,dumponexit=true" ;;
    async) echo "-agentpath:$ASYNC_LIB=start,event=$ASYNC_PROFILER_EVENT,collapsed,file=$f.collapsed" ;;
  esac
}

fetch_async_profiler() { # Maven Central through Maven; extracts this platform's libasyncProfiler.so
  local dir="$BENCH_DIR/target/async-profiler-$ASYNC_PROFILER_VERSION" arch
  case "$(uname -m)" in x86_64) arch=linux-x64 ;; aarch64) arch=linux-arm64 ;; *) echo "no async-profiler for $(uname -m)" >&2; return 1 ;; esac
  if [ ! -f "$dir/libasyncProfiler.so" ]; then
    (cd "$ROOT" && ./mvnw -B -q -ntp dependency:copy -Dartifact="tools.profiler:async-profiler:$ASYNC_PROFILER_VERSION:jar" \
      -DoutputDirectory="$dir") || return 1
    (cd "$dir" && unzip -o -q -j "async-profiler-$ASYNC_PROFILER_VERSION.jar" "$arch/libasyncProfiler.so") || return 1
  fi
  ASYNC_LIB="$dir/libasyncProfiler.so"
}

# connect-auth: users bench-user-0 .. AUTH_COLD_N-1, all with this password. Tether: the load generator writes them
# into mqtt_users over JDBC (one bcrypt hash, cost 10, for all). Mosquitto: a password_file written before it starts.
AUTH_PASSWORD="bench-pw"
write_mosquitto_passwords() { # file count: one PBKDF2-SHA512 hash (mosquitto_passwd) reused for every user
  mosquitto_passwd -c -b "$1" bench-user-0 "$AUTH_PASSWORD"
  local hash i
  hash="$(cut -d: -f2- "$1")"
  for ((i = 1; i < $2; i++)); do echo "bench-user-$i:$hash"; done >>"$1"
}

start_broker() { # kind [auth: Mosquitto with the connect-auth users in a password_file]
  BROKER_KIND="$1"
  BROKER_DIR="$WORK/$1-$RANDOM$RANDOM"
  mkdir -p "$BROKER_DIR"
  local logf="$OUT/$1.log"
  case "$1" in
    tether)
      BROKER_PORT=$TETHER_PORT
      # shellcheck disable=SC2046 # profile_flags: one word or none
      ${BROKER_PIN[@]+"${BROKER_PIN[@]}"} java "${JVM_FLAGS[@]}" $(profile_flags) \
        -Dtether.mqtt.host=127.0.0.1 -Dtether.mqtt.port="$TETHER_PORT" -Dtether.limits.connections-per-second-per-address=0 \
        -Dtether.embedded-postgres.data-dir="$BROKER_DIR/pg" -Dtether.embedded-postgres.port="$PG_PORT" \
        -Dquarkus.http.host=127.0.0.1 -Dquarkus.http.port="$TETHER_HTTP_PORT" -Dtether.cluster.port="$CLUSTER_PORT" \
        -jar "$ROOT/target/quarkus-app/quarkus-run.jar" >>"$logf" 2>&1 &
      BROKER_PID=$!
      BROKER_ARGS=(--pg-data "$BROKER_DIR/pg" --jdbc "jdbc:postgresql://127.0.0.1:$PG_PORT/postgres" --jvm true) ;;
    mosquitto)
      BROKER_PORT=$MOSQUITTO_PORT
      cat >"$BROKER_DIR/mosquitto.conf" <<CONF
listener $MOSQUITTO_PORT 127.0.0.1
allow_anonymous true
user root
persistence true
persistence_location $BROKER_DIR/
max_queued_messages 10000
max_queued_bytes 0
max_inflight_messages 0
max_connections -1
set_tcp_nodelay true
log_dest stderr
log_type error
log_type warning
CONF
      if [ "${2:-}" = auth ]; then
        write_mosquitto_passwords "$BROKER_DIR/passwd" "$AUTH_COLD_N"
        echo "password_file $BROKER_DIR/passwd" >>"$BROKER_DIR/mosquitto.conf" # allow_anonymous stays true
      fi
      ${BROKER_PIN[@]+"${BROKER_PIN[@]}"} mosquitto -c "$BROKER_DIR/mosquitto.conf" >>"$logf" 2>&1 &
      BROKER_PID=$!
      BROKER_ARGS=() ;;
    hivemq)
      BROKER_PORT=$HIVEMQ_PORT
      ${BROKER_PIN[@]+"${BROKER_PIN[@]}"} java "${JVM_FLAGS[@]}" -jar "$BENCH_DIR/hivemq-launcher/target/hivemq-launcher.jar" \
        "$BROKER_DIR" "$HIVEMQ_PORT" 10000 >>"$logf" 2>&1 &
      BROKER_PID=$!
      BROKER_ARGS=(--jvm true) ;;
  esac
  if ! wait_port "$BROKER_PORT" 120; then
    log "$1 did not start; tail of $logf:"; tail -20 "$logf" >&2
    stop_broker
    return 1
  fi
  [ "$1" = tether ] && pin_postgres "$BROKER_DIR/pg"
  log "$1 up (pid $BROKER_PID, port $BROKER_PORT${BROKER_CPUS:+, CPUs $BROKER_CPUS})"
}

wait_ready() { # http-port pid seconds: until GET /q/health/ready answers 200
  local end=$((SECONDS + $3))
  while [ $SECONDS -lt $end ]; do
    kill -0 "$2" 2>/dev/null || return 1
    [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$1/q/health/ready" || true)" = 200 ] && return 0
    sleep 0.2
  done
  return 1
}

# cross-replica: two Tether replicas on one PostgreSQL, as in "Scaling out" (README) and ReplicaSet (tests): replica 1
# starts the embedded PostgreSQL, replica 2 gets it as its datasource; distinct MQTT, HTTP and cluster ports and
# state directories, one secret, advertised on 127.0.0.1. The load generator gets both pids (CPU of both counts).
start_replicas() {
  BROKER_KIND=tether
  BROKER_DIR="$WORK/replicas-$RANDOM$RANDOM"
  mkdir -p "$BROKER_DIR/r1" "$BROKER_DIR/r2"
  local secret="bench-$RANDOM$RANDOM$RANDOM"
  local common=(-Dtether.mqtt.host=127.0.0.1 -Dquarkus.http.host=127.0.0.1 -Dtether.cluster.advertised-host=127.0.0.1
    -Dtether.limits.connections-per-second-per-address=0
    -Dtether.cluster.secret="$secret")
  # shellcheck disable=SC2046
  ${BROKER_PIN[@]+"${BROKER_PIN[@]}"} java "${JVM_FLAGS[@]}" $(profile_flags -replica1) "${common[@]}" \
    -Dtether.mqtt.port="$TETHER_PORT" -Dquarkus.http.port="$TETHER_HTTP_PORT" \
    -Dtether.cluster.port="$CLUSTER_PORT" -Dtether.instance.state-dir="$BROKER_DIR/r1" \
    -Dtether.embedded-postgres.data-dir="$BROKER_DIR/pg" -Dtether.embedded-postgres.port="$PG_PORT" \
    -jar "$ROOT/target/quarkus-app/quarkus-run.jar" >>"$OUT/tether-replica1.log" 2>&1 &
  BROKER_PID=$!
  if ! wait_ready "$TETHER_HTTP_PORT" "$BROKER_PID" 120 || ! wait_port "$TETHER_PORT" 10; then
    log "replica 1 did not start; tail of tether-replica1.log:"; tail -20 "$OUT/tether-replica1.log" >&2
    stop_broker; return 1
  fi
  pin_postgres "$BROKER_DIR/pg"
  # shellcheck disable=SC2046
  ${BROKER_PIN[@]+"${BROKER_PIN[@]}"} java "${JVM_FLAGS[@]}" $(profile_flags -replica2) "${common[@]}" \
    -Dtether.mqtt.port="$TETHER_PORT2" -Dquarkus.http.port="$TETHER_HTTP_PORT2" \
    -Dtether.cluster.port="$CLUSTER_PORT2" -Dtether.instance.state-dir="$BROKER_DIR/r2" \
    -Dquarkus.datasource.reactive.url="postgresql://127.0.0.1:$PG_PORT/postgres" \
    -Dquarkus.datasource.jdbc.url="jdbc:postgresql://127.0.0.1:$PG_PORT/postgres" \
    -Dquarkus.datasource.username=postgres -Dquarkus.datasource.password=postgres \
    -jar "$ROOT/target/quarkus-app/quarkus-run.jar" >>"$OUT/tether-replica2.log" 2>&1 &
  BROKER2_PID=$!
  if ! wait_ready "$TETHER_HTTP_PORT2" "$BROKER2_PID" 120 || ! wait_port "$TETHER_PORT2" 10 "$BROKER2_PID"; then
    log "replica 2 did not start; tail of tether-replica2.log:"; tail -20 "$OUT/tether-replica2.log" >&2
    stop_broker; return 1
  fi
  sleep 3 # both replicas' refresh (heartbeat interval) has seen the other's lease and linked
  BROKER_PORT=$TETHER_PORT
  BROKER_ARGS=(--pg-data "$BROKER_DIR/pg" --jdbc "jdbc:postgresql://127.0.0.1:$PG_PORT/postgres" --jvm true
    --pid2 "$BROKER2_PID" --port2 "$TETHER_PORT2")
  log "tether replicas up (pids $BROKER_PID and $BROKER2_PID, MQTT ports $TETHER_PORT and $TETHER_PORT2${BROKER_CPUS:+, CPUs $BROKER_CPUS})"
}

loadgen() { # broker scenario args...
  local b="$1"; shift
  local cpus=()
  [ -z "$BROKER_CPUS" ] || cpus=(--broker-cpus "$BROKER_CPUS")
  ${LOADGEN_PIN[@]+"${LOADGEN_PIN[@]}"} java -Xms512m -Xmx"$LOADGEN_HEAP" -jar "$BENCH_DIR/loadgen/target/loadgen.jar" "$@" \
    --broker "$b" --port "$BROKER_PORT" --pid "$BROKER_PID" ${BROKER_ARGS[@]+"${BROKER_ARGS[@]}"} ${cpus[@]+"${cpus[@]}"} \
    --out "$OUT/$b.jsonl"
}

# A run that left no JSON line (broker did not start, load generator crashed) still shows in the table.
failure_line() { # broker case scenario run why
  local why="${5//\"/\'}"
  printf '{"case":"%s","scenario":"%s","broker":"%s","run":%s,"ok":false,"params":{},"metrics":{},"errors":["%s"]}\n' \
    "$2" "$3" "$1" "$4" "$why" >>"$OUT/$1.jsonl"
}
nlines() { if [ -f "$1" ]; then wc -l <"$1"; else echo 0; fi; }
# A broker that does not run a case: one line in the table says why (written for run 1 only).
skip_line() { # broker case scenario why
  printf '{"case":"%s","scenario":"%s","broker":"%s","skipped":"%s","ok":true,"params":{},"metrics":{},"errors":[]}\n' \
    "$2" "$3" "$1" "${4//\"/\'}" >>"$OUT/$1.jsonl"
}

# startup: bench/startup-sessions.sh (standalone) initialises its own PostgreSQL, seeds it once with the offline
# sessions (--sessions N, --queued M of them with a queued message), then starts Tether on it --runs times and prints
# one row per start on stdout:
#   | run | listening ms | RSS at listening MB | ready ms | RSS at ready MB | RSS after full GC MB | heap used after GC MB | resume check |
# run_startup calls it with --runs 1 for each run (a fresh database each time, like a fresh broker in the other cases;
# a later start on the same database finds the sample's queued messages already delivered) and turns the row into a
# JSON line of the load generator's format (case startup; metrics listening_ms, rss_listening_mb, ready_ms,
# rss_ready_mb, rss_after_gc_mb, heap_used_after_gc_mb; ok = the resume check passed), a missing row into a failure
# line. It gets JAR (this tree's build),
# HEAP=$STARTUP_HEAP, and JAVA: a wrapper that runs java under taskset -c $BROKER_CPUS and/or with the PROFILE flags
# (one file per start, named by the JVM's pid; the first start, which migrates the empty database, is not measured).
STARTUP_SCRIPT="$BENCH_DIR/startup-sessions.sh"
run_startup() { # run sessions queued
  local java=java stdout="$WORK/startup.out" rc=0 row
  if [ -n "$BROKER_CPUS" ] || [ -n "$PROFILE" ]; then
    java="$WORK/startup-java"
    # $$ stays literal here: the wrapper's pid, which exec makes the JVM's.
    printf '#!/usr/bin/env bash\nexec %s java %s "$@"\n' "${BROKER_PIN[*]:-}" "$(RUN_TAG="startup-run$1-pid"'$$' profile_flags)" >"$java"
    chmod +x "$java"
  fi
  JAR="$ROOT/target/quarkus-app/quarkus-run.jar" HEAP="$STARTUP_HEAP" JAVA="$java" \
    bash "$STARTUP_SCRIPT" --sessions "$2" --queued "$3" --runs 1 >"$stdout" 2>>"$OUT/tether-startup.log" || rc=$?
  cat "$stdout" >>"$OUT/tether-startup.log"
  row="$(grep -E "^\| 1 \|" "$stdout" | head -1 || true)"
  if [ -z "$row" ]; then
    failure_line tether startup startup "$1" "bench/startup-sessions.sh (exit $rc) printed no row (see tether-startup.log)"
  else
    awk -F'|' -v run="$1" -v s="$2" -v q="$3" -v heap="${STARTUP_HEAP:-JVM default}" -v cpus="$BROKER_CPUS" '
      function num(v) { gsub(/ /, "", v); return v ~ /^[0-9]+(\.[0-9]+)?$/ ? v : "null" }
      {
        check = $9; gsub(/ /, "", check); ok = check == "ok"
        printf "{\"case\":\"startup\",\"scenario\":\"startup\",\"broker\":\"tether\",\"run\":%d,\"ok\":%s,", run, ok ? "true" : "false"
        printf "\"params\":{%s\"sessions\":%d,\"queued\":%d,\"heap\":\"%s\"},", cpus == "" ? "" : "\"broker_cpus\":\"" cpus "\",", s, q, heap
        printf "\"metrics\":{\"listening_ms\":%s,\"rss_listening_mb\":%s,\"ready_ms\":%s,\"rss_ready_mb\":%s,", num($3), num($4), num($5), num($6)
        printf "\"rss_after_gc_mb\":%s,\"heap_used_after_gc_mb\":%s},", num($7), num($8)
        printf "\"errors\":[%s]}\n", ok ? "" : "\"resume check " check " (see tether-startup.log)\""
      }' <<<"$row" >>"$OUT/tether.jsonl"
  fi
  return "$rc"
}

report() { # --plots: PNGs and medians.csv into $OUT
  local files=()
  for b in ${BROKERS//,/ }; do [ -f "$OUT/$b.jsonl" ] && files+=("$OUT/$b.jsonl"); done
  [ ${#files[@]} -gt 0 ] || { log "no JSON lines"; return 0; }
  java -Djava.awt.headless=true -jar "$BENCH_DIR/loadgen/target/loadgen.jar" report "${files[@]}" --plots "$OUT" || true
}

# ---- build
if [ "$SKIP_BUILD" = 0 ]; then
  if [ "$SMOKE" = 0 ] || [ ! -f "$ROOT/target/quarkus-app/quarkus-run.jar" ]; then
    log "building Tether"
    (cd "$ROOT" && ./mvnw -B -q -ntp package -DskipTests)
  fi
  if [ "$SMOKE" = 1 ]; then
    log "building the load generator"
    (cd "$ROOT" && ./mvnw -B -q -ntp -f bench/pom.xml -pl loadgen -am package)
  else
    log "building the load generator and the HiveMQ CE launcher"
    (cd "$ROOT" && ./mvnw -B -q -ntp -f bench/pom.xml package)
  fi
fi
if [[ ",$BROKERS," == *",mosquitto,"* ]] && ! command -v mosquitto >/dev/null; then
  log "installing mosquitto (apt-get)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mosquitto >/dev/null
  systemctl disable --now mosquitto >/dev/null 2>&1 || service mosquitto stop >/dev/null 2>&1 || true
fi

if [ -n "$PROFILE" ]; then
  mkdir -p "$OUT/profiles"
  if [ "$PROFILE" = async ] && ! fetch_async_profiler; then
    log "PROFILE=async: could not fetch tools.profiler:async-profiler:$ASYNC_PROFILER_VERSION (Maven Central)"; exit 2
  fi
fi

# ---- smoke
if [ "$SMOKE" = 1 ]; then
  RUN_TAG=smoke
  start_broker tether
  rc=0
  loadgen tether smoke --run 1 || rc=$?
  stop_broker
  report | tee "$OUT/table.txt"
  [ "$rc" = 0 ] && log "smoke passed" || log "smoke FAILED"
  exit "$rc"
fi

# ---- full run: case by case, each broker in turn, fresh broker per case
CASE_LIST=()
add() { CASE_LIST+=("$*"); }
for c in ${CASES//,/ }; do
  case "$c" in
    connect) add connect --case connect --n "$CONNECT_N" --inflight "$CONNECT_INFLIGHT" ;;
    connect-auth) add connect-auth --case connect-auth --n "$AUTH_N" --cold-n "$AUTH_COLD_N" --inflight "$CONNECT_INFLIGHT" \
      --cold-inflight "$AUTH_COLD_INFLIGHT" --sources "$AUTH_SOURCES" --password "$AUTH_PASSWORD" ;;
    throughput)
      for q in 0 1; do for m in one2one fanout; do for s in 64 4096; do
        add throughput --case "throughput-qos$q-$m-$([ $s = 64 ] && echo 64B || echo 4KiB)" --qos $q --mode $m --size $s \
          --duration "$DURATION" --warmup "$WARMUP" --publishers "$PUBLISHERS" --subscribers "$SUBSCRIBERS"
      done; done; done ;;
    durable-qos1) add throughput --case durable-qos1-one2one-64B --qos 1 --mode one2one --size 64 --durable true \
      --expiry 300 --duration "$DURATION" --warmup "$WARMUP" --publishers "$PUBLISHERS" ;;
    latency) add latency --case "latency-qos1-${RATE}per_s" --rate "$RATE" --duration "$DURATION" --warmup "$WARMUP" --publishers "$PUBLISHERS" ;;
    cross-replica) add cross-replica --case "cross-replica-qos1-${RATE}per_s" --rate "$RATE" --duration "$DURATION" \
      --warmup "$WARMUP" --publishers "$PUBLISHERS" ;;
    resume) add resume --case resume --n "$RESUME_N" --k "$RESUME_K" ;;
    expiry) add expiry --case expiry --m @EXPIRY_M@ --margin "$EXPIRY_MARGIN" --max-open "$EXPIRY_MAX_OPEN" ;;
    idle) add idle --case idle --connections "$IDLE_CONNECTIONS" --hold "$IDLE_HOLD" ;;
    startup) add startup --case startup --sessions "$STARTUP_SESSIONS" --queued "$STARTUP_QUEUED" ;;
    *) echo "unknown case $c" >&2; exit 2 ;;
  esac
done

{
  echo "parameters: HEAP=$HEAP CONNECT_N=$CONNECT_N CONNECT_INFLIGHT=$CONNECT_INFLIGHT AUTH_N=$AUTH_N AUTH_COLD_N=$AUTH_COLD_N"
  echo "  AUTH_COLD_INFLIGHT=$AUTH_COLD_INFLIGHT AUTH_SOURCES=$AUTH_SOURCES"
  echo "  DURATION=$DURATION WARMUP=$WARMUP PUBLISHERS=$PUBLISHERS"
  echo "  SUBSCRIBERS=$SUBSCRIBERS RATE=$RATE RESUME_N=$RESUME_N RESUME_K=$RESUME_K EXPIRY_M=$EXPIRY_M"
  echo "  EXPIRY_M_OTHERS=$EXPIRY_M_OTHERS EXPIRY_MARGIN=$EXPIRY_MARGIN EXPIRY_MAX_OPEN=$EXPIRY_MAX_OPEN"
  echo "  IDLE_CONNECTIONS=$IDLE_CONNECTIONS IDLE_HOLD=$IDLE_HOLD STARTUP_SESSIONS=$STARTUP_SESSIONS STARTUP_QUEUED=$STARTUP_QUEUED" \
    "STARTUP_HEAP=${STARTUP_HEAP:-(JVM default)}"
  echo "  BROKER_CPUS=${BROKER_CPUS:-(not pinned)} PG_CPUS=$([ -n "$BROKER_CPUS" ] && echo "$PG_CPUS" || echo '(not pinned)')" \
    "LOADGEN_CPUS=${LOADGEN_CPUS:-(not pinned)} PROFILE=${PROFILE:-none}"
  echo "  runs=$RUNS brokers=$BROKERS; $(nproc) cores; ulimit -n $(ulimit -n)"
  echo "  $(java -version 2>&1 | head -1)"
  echo "  mosquitto: $({ mosquitto -h 2>&1 || true; } | head -1); HiveMQ CE 2025.5 embedded; Tether $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)"
} | tee "$OUT/parameters.txt" >&2

failed=0
for entry in "${CASE_LIST[@]}"; do
  for run in $(seq 1 "$RUNS"); do
    for b in ${BROKERS//,/ }; do
      m="$EXPIRY_M"; [ "$b" = tether ] || m="$EXPIRY_M_OTHERS"
      read -r -a args <<<"${entry//@EXPIRY_M@/$m}"
      starter=(start_broker "$b")
      RUN_TAG="${args[2]}-run$run"
      if [ "${args[0]}" = cross-replica ]; then
        if [ "$b" != tether ]; then # Tether only: one line in the table says so
          [ "$run" = 1 ] && skip_line "$b" "${args[2]}" cross-replica "Tether only (two replicas of one broker sharing one PostgreSQL)"
          continue
        fi
        starter=(start_replicas)
      fi
      if [ "${args[0]}" = startup ]; then # Tether only, own broker start: bench/startup-sessions.sh
        why=""
        [ "$b" = tether ] || why="Tether only (its start-up with offline sessions in PostgreSQL)"
        [ -z "$why" ] && [ ! -f "$STARTUP_SCRIPT" ] && why="bench/startup-sessions.sh is not in this tree"
        if [ -n "$why" ]; then
          [ "$b" = tether ] && log "case startup on tether: skipped, $why"
          [ "$run" = 1 ] && skip_line "$b" startup startup "$why"
          continue
        fi
        log "case startup run $run/$RUNS on tether (STARTUP_SESSIONS=$STARTUP_SESSIONS STARTUP_QUEUED=$STARTUP_QUEUED;" \
          "bench/startup-sessions.sh, log tether-startup.log)"
        lines_before=$(nlines "$OUT/tether.jsonl")
        rc=0
        run_startup "$run" "$STARTUP_SESSIONS" "$STARTUP_QUEUED" || rc=$?
        bad=$(tail -n +"$((lines_before + 1))" "$OUT/tether.jsonl" | grep -c '"ok":false' || true)
        failed=$((failed + bad))
        [ "$rc" = 0 ] || [ "$bad" -gt 0 ] || { failed=$((failed + 1)); log "bench/startup-sessions.sh exited with $rc"; }
        continue
      fi
      if [ "${args[0]}" = connect-auth ]; then
        why=""
        [ "$b" = hivemq ] && why="HiveMQ CE checks no password without an extension"
        [ "$b" = mosquitto ] && ! command -v mosquitto_passwd >/dev/null && why="mosquitto_passwd is not installed"
        if [ -n "$why" ]; then
          [ "$run" = 1 ] && skip_line "$b" "${args[2]}" connect-auth "$why"
          continue
        fi
        starter=(start_broker "$b" auth)
      fi
      log "case ${args[2]} run $run/$RUNS on $b"
      lines_before=$(nlines "$OUT/$b.jsonl")
      if "${starter[@]}"; then
        rc=0
        loadgen "$b" "${args[@]}" --run "$run" || rc=$?
        stop_broker
        if [ "$rc" != 0 ]; then
          failed=$((failed + 1))
          [ "$(nlines "$OUT/$b.jsonl")" -gt "$lines_before" ] \
            || failure_line "$b" "${args[2]}" "${args[0]}" "$run" "load generator exited with $rc and wrote no result"
        fi
      else
        failed=$((failed + 1))
        failure_line "$b" "${args[2]}" "${args[0]}" "$run" "broker did not start (see $b$([ "${args[0]}" = cross-replica ] && echo '-replica*').log)"
      fi
    done
  done
done

{ cat "$OUT/parameters.txt"; report; } | tee "$OUT/table.txt"
log "JSON lines: $OUT/*.jsonl; table: $OUT/table.txt; charts: $OUT/*.png; medians: $OUT/medians.csv"
[ "$failed" = 0 ]
