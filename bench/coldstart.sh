#!/usr/bin/env bash
# Tether cold start: time from launching the JVM to ready (GET /q/health/ready answers 200 and the MQTT port accepts
# a connection), for each start-up variant, with an external PostgreSQL and with the embedded default. Each
# (variant, database) pair is started --runs times (default 3), runs interleaved; the table shows medians.
#
#   bench/coldstart.sh                     the four variants, both databases, 3 runs each (~4 min)
#   bench/coldstart.sh --runs 5 --variants jdk17,jdk25-aot --db external
#   bench/coldstart.sh --smoke             one start of jdk17 with the embedded PostgreSQL; exit 1 if not ready
#   JAR=/path/to/quarkus-app/quarkus-run.jar bench/coldstart.sh   another build (default target/quarkus-app)
#   NICE=-10 setsid bench/coldstart.sh     on a machine busy with other work (root; see NICE below)
#
# Variants: jdk17 (java on PATH, or JDK17), jdk17-appcds (JDK 17 with a dynamic AppCDS archive written by a training
# start, -XX:ArchiveClassesAtExit then -XX:SharedArchiveFile), jdk25 (JDK25, default Temurin 25 under /usr/lib/jvm),
# jdk25-aot (JDK 25 with an AOT cache written by a training start, -XX:AOTCacheOutput then -XX:AOTCache; JEP 514/515).
# Two more variants run the archive a Quarkus build wrote beside its jar (started from that directory, as Quarkus asks):
#   jdk17-appcds-build  APPCDS_JAR=.../quarkus-run.jar of  ./mvnw package -DskipTests -Dquarkus.package.jar.appcds.enabled=true
#   jdk25-aot-build     AOT_JAR=.../quarkus-run.jar of  JAVA_HOME=<JDK 25> ./mvnw package -DskipTests
#                         -Dquarkus.package.jar.aot.enabled=true -Dquarkus.package.jar.aot.type=AOT -Dquarkus.package.jar.aot.phase=BUILD
# (both builds start Tether once, to the end of its start-up: give them QUARKUS_DATASOURCE_* or let it start the
# embedded PostgreSQL; the AOT one also switches to the aot-jar layout, a plain class path).
# A training start goes to ready, sends one QoS 1 PUBLISH (mosquitto_pub, when installed), then gets SIGTERM.
# External: a PostgreSQL of PG_BIN (default /usr/lib/postgresql/15/bin) initialised in a temporary directory, on
# loopback. Its schema is migrated by a first start that is not counted (nor is the embedded one's first start, which
# runs initdb): the runs measure a restart on an existing database, as a scaled-to-zero replica does.
# Columns: ready = wall ms from launch to ready (median, min-max); cpu = user+system CPU ms of the JVM at ready
# (steadier than wall on a shared machine); quarkus = Quarkus' own "started in"; x jdk17 = ready / ready of jdk17
# with the same database, in this run. Loopback only; every start is bounded (START_TIMEOUT s).
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$BENCH_DIR/.." && pwd)"

: "${JAR:=$ROOT/target/quarkus-app/quarkus-run.jar}"
: "${JDK17:=$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")}"
: "${JDK25:=/usr/lib/jvm/temurin-25-jdk-amd64}"
: "${PG_BIN:=/usr/lib/postgresql/15/bin}"
: "${HEAP:=256m}"                 # -Xmx of every start (what a small Knative container gives)
: "${START_TIMEOUT:=120}"
: "${JVM_OPTS:=}"                 # more JVM flags for every start, e.g. JVM_OPTS="-XX:+UseSerialGC"
: "${NICE:=0}"                    # nice level of the JVMs and the external PostgreSQL; on a busy shared machine
                                  # NICE=-10 (root) keeps other work from stretching the wall times
: "${MQTT_PORT:=18841}" "${HTTP_PORT:=18091}" "${CLUSTER_PORT:=18846}" "${PG_PORT:=15461}" "${EMBEDDED_PG_PORT:=15462}"

RUNS=3
VARIANTS="jdk17,jdk17-appcds,jdk25,jdk25-aot"
DBS="external,embedded"
SMOKE=0
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) RUNS="$2"; shift ;;
    --variants) VARIANTS="$2"; shift ;;
    --db) DBS="$2"; shift ;;
    --smoke) SMOKE=1; RUNS=1; VARIANTS=jdk17; DBS=embedded ;;
    -h|--help) sed -n '2,27p' "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
if ! [[ "$RUNS" =~ ^[0-9]+$ ]] || [ "$RUNS" -lt 1 ] || [ "$RUNS" -gt 20 ]; then echo "--runs must be 1..20" >&2; exit 2; fi
[ -f "$JAR" ] || { echo "no $JAR: build first (./mvnw package -DskipTests)" >&2; exit 2; }
for v in ${VARIANTS//,/ }; do
  case "$v" in jdk17|jdk17-appcds|jdk25|jdk25-aot|jdk17-appcds-build|jdk25-aot-build) ;; *) echo "unknown variant $v" >&2; exit 2 ;; esac
  [ "$v" = jdk17-appcds-build ] && { [ -f "${APPCDS_JAR:-}" ] && [ -f "$(dirname "$APPCDS_JAR")/app-cds.jsa" ] || { echo "$v: set APPCDS_JAR to a quarkus-run.jar with app-cds.jsa beside it" >&2; exit 2; }; }
  [ "$v" = jdk25-aot-build ] && { [ -f "${AOT_JAR:-}" ] && [ -f "$(dirname "$AOT_JAR")/app.aot" ] || { echo "$v: set AOT_JAR to a quarkus-run.jar with app.aot beside it" >&2; exit 2; }; }
  case "$v" in jdk25*) [ -x "$JDK25/bin/java" ] || { echo "no JDK 25 at $JDK25 (set JDK25)" >&2; exit 2; } ;; esac
done
for d in ${DBS//,/ }; do
  case "$d" in external|embedded) ;; *) echo "unknown database $d" >&2; exit 2 ;; esac
  [ "$d" = external ] && { [ -x "$PG_BIN/initdb" ] || { echo "no PostgreSQL at $PG_BIN (set PG_BIN)" >&2; exit 2; }; }
done

# Linux schedules sessions (autogroups) fairly against each other, so a nice level counts only inside one: set the
# level of this script's session too (best effort; run it in its own session, e.g. setsid, to touch nothing else).
if [ "$NICE" != 0 ] && [ -w /proc/self/autogroup ]; then echo "$NICE" >/proc/self/autogroup 2>/dev/null || true; fi

WORK="$(mktemp -d /tmp/tether-coldstart.XXXXXX)"
PID=""
PG_DATA=""
log() { echo "[coldstart $(date +%H:%M:%S)] $*" >&2; }

stop_pid() { # pid: SIGTERM, SIGKILL after 60 s (an AOT cache is written at exit)
  local pid="$1"
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 600); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && { log "pid $pid did not stop in 60 s: SIGKILL"; kill -KILL "$pid" 2>/dev/null || true; }
  fi
  wait "$pid" 2>/dev/null || true
}
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
cleanup() {
  [ -n "$PID" ] && stop_pid "$PID"
  [ -n "$PG_DATA" ] && as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_free() { ! (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null; }
for p in "$MQTT_PORT" "$HTTP_PORT" "$CLUSTER_PORT" "$PG_PORT" "$EMBEDDED_PG_PORT"; do
  port_free "$p" || { echo "port $p is in use (set MQTT_PORT, HTTP_PORT, CLUSTER_PORT, PG_PORT, EMBEDDED_PG_PORT)" >&2; exit 2; }
done

start_external_pg() {
  PG_DATA="$WORK/pg"
  mkdir -p "$PG_DATA"
  if [ "$(id -u)" = 0 ]; then chown postgres "$WORK" "$PG_DATA"; chmod 755 "$WORK"; fi # PostgreSQL refuses root
  as_pg "$PG_BIN/initdb" -D "$PG_DATA" -U postgres --auth=trust -E UTF8 >"$WORK/initdb.log" 2>&1
  local pg_user=(); [ "$(id -u)" = 0 ] && pg_user=(runuser -u postgres --)
  nice -n "$NICE" ${pg_user[@]+"${pg_user[@]}"} "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$WORK/pg.log" -w -t 60 \
    -o "-p $PG_PORT -h 127.0.0.1 -k $WORK -c fsync=on" start >/dev/null
  log "external PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $NF}') on 127.0.0.1:$PG_PORT"
}

jar_of() { case "$1" in jdk17-appcds-build) echo "$APPCDS_JAR" ;; jdk25-aot-build) echo "$AOT_JAR" ;; *) echo "$JAR" ;; esac; }
java_of() { case "$1" in jdk25*) echo "$JDK25/bin/java" ;; *) echo "$JDK17/bin/java" ;; esac; }
archive_flags() { # variant mode(train|use)
  case "$1:$2" in
    jdk17-appcds:train) echo "-XX:ArchiveClassesAtExit=$WORK/app-cds-17.jsa" ;;
    jdk17-appcds:use) echo "-XX:SharedArchiveFile=$WORK/app-cds-17.jsa" ;;
    jdk25-aot:train) echo "-XX:AOTCacheOutput=$WORK/app-25.aot" ;;
    jdk25-aot:use) echo "-XX:AOTCache=$WORK/app-25.aot" ;;
    jdk17-appcds-build:use) echo "-XX:SharedArchiveFile=app-cds.jsa" ;;
    jdk25-aot-build:use) echo "-XX:AOTCache=app.aot" ;;
  esac
}

cpu_ms() { # pid: user+system CPU of the process so far
  local stat; stat="$(cat "/proc/$1/stat" 2>/dev/null)" || { echo 0; return; }
  stat="${stat##*) }"
  read -r -a f <<<"$stat"
  echo $(( (f[11] + f[12]) * 1000 / $(getconf CLK_TCK) ))
}

# One start: sets RESULT to "wall_ms cpu_ms quarkus_ms"; returns 1 if not ready in START_TIMEOUT s.
start_once() { # variant db mode(train|use|plain) logfile
  local variant="$1" db="$2" mode="$3" logf="$4" env=() flags=()
  RESULT=""
  # The embedded default: no datasource in the environment, data kept in one directory across the starts.
  if [ "$db" = external ]; then
    env=(QUARKUS_DATASOURCE_REACTIVE_URL="postgresql://127.0.0.1:$PG_PORT/postgres"
      QUARKUS_DATASOURCE_JDBC_URL="jdbc:postgresql://127.0.0.1:$PG_PORT/postgres"
      QUARKUS_DATASOURCE_USERNAME=postgres QUARKUS_DATASOURCE_PASSWORD=postgres)
  fi
  [ "$mode" = plain ] || read -r -a flags <<<"$(archive_flags "$variant" "$mode")"
  local t0 t1 jar
  jar="$(jar_of "$variant")"
  t0=$(date +%s%N)
  # From the jar's directory: archives record the class path as given.
  (cd "$(dirname "$jar")" && exec env ${env[@]+"${env[@]}"} nice -n "$NICE" "$(java_of "$variant")" -Xmx"$HEAP" $JVM_OPTS ${flags[@]+"${flags[@]}"} \
    -Dtether.mqtt.host=127.0.0.1 -Dtether.mqtt.port="$MQTT_PORT" \
    -Dquarkus.http.host=127.0.0.1 -Dquarkus.http.port="$HTTP_PORT" -Dtether.cluster.port="$CLUSTER_PORT" \
    -Dtether.instance.state-dir="$WORK/state-$db" \
    -Dtether.embedded-postgres.data-dir="$WORK/embedded-pg" -Dtether.embedded-postgres.port="$EMBEDDED_PG_PORT" \
    -jar quarkus-run.jar) >"$logf" 2>&1 &
  PID=$!
  local end=$((SECONDS + START_TIMEOUT)) ready=0 cpu=0
  while [ $SECONDS -lt "$end" ] && kill -0 "$PID" 2>/dev/null; do
    if [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:$HTTP_PORT/q/health/ready" || true)" = 200 ] \
      && (exec 3<>/dev/tcp/127.0.0.1/"$MQTT_PORT") 2>/dev/null; then
      t1=$(date +%s%N); cpu=$(cpu_ms "$PID"); ready=1; break
    fi
    sleep 0.02
  done
  if [ "$ready" = 1 ] && [ "$mode" = train ] && command -v mosquitto_pub >/dev/null; then
    mosquitto_pub -h 127.0.0.1 -p "$MQTT_PORT" -V mqttv5 -q 1 -i coldstart-training -t coldstart/training -m x || true
  fi
  stop_pid "$PID"
  PID=""
  [ "$ready" = 1 ] || return 1
  # "... started in 0.812s. Listening on ..." (Quarkus' own measure, from its main to the end of start-up)
  local q; q="$(grep -o 'started in [0-9.]*s' "$logf" | head -1 | tr -dc '0-9.')"
  RESULT="$(( (t1 - t0) / 1000000 )) $cpu $(awk -v s="${q:-0}" 'BEGIN { printf "%d", s * 1000 }')"
}

median() { sort -n | awk '{ a[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print a[(NR + 1) / 2]; else printf "%d\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

{
  echo "cold start: runs=$RUNS variants=$VARIANTS db=$DBS heap=$HEAP nice=$NICE jvm_opts='$JVM_OPTS'; $(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "  jar $JAR${APPCDS_JAR:+, appcds-build $APPCDS_JAR}${AOT_JAR:+, aot-build $AOT_JAR} (Tether $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?'))"
  echo "  jdk17: $("$JDK17/bin/java" -version 2>&1 | head -1)"
  [[ ",$VARIANTS," == *",jdk25"* ]] && echo "  jdk25: $("$JDK25/bin/java" -version 2>&1 | head -1)"
} >&2

[[ ",$DBS," == *",external,"* ]] && start_external_pg
RESULTS="$WORK/results.txt"
: >"$RESULTS"
failed=0
for db in ${DBS//,/ }; do
  # First start on this database (schema migration; initdb for the embedded one): not counted.
  if [ "$SMOKE" = 0 ]; then
    log "$db: first start (migrations), not counted"
    start_once jdk17 "$db" plain "$WORK/first-$db.log" || { log "$db: first start failed"; tail -20 "$WORK/first-$db.log" >&2; exit 1; }
  fi
done
TRAIN_DB="${DBS%%,*}"
for v in ${VARIANTS//,/ }; do
  case "$v" in
    *-appcds|*-aot)
      log "$v: training start ($TRAIN_DB database)"
      start_once "$v" "$TRAIN_DB" train "$WORK/train-$v.log" || { log "$v: training start failed"; tail -20 "$WORK/train-$v.log" >&2; exit 1; } ;;
  esac
done
for run in $(seq 1 "$RUNS"); do
  for db in ${DBS//,/ }; do
    for v in ${VARIANTS//,/ }; do
      mode=use; case "$v" in jdk17|jdk25) mode=plain ;; esac
      logf="$WORK/$v-$db-$run.log"
      if start_once "$v" "$db" "$mode" "$logf"; then
        r="$RESULT"
        log "run $run $db $v: ready ${r%% *} ms (cpu, quarkus: ${r#* })"
        echo "$v $db $run $r" >>"$RESULTS"
      else
        log "run $run $db $v: not ready in $START_TIMEOUT s; tail of its log:"; tail -20 "$logf" >&2
        failed=$((failed + 1))
      fi
    done
  done
done

# Table: medians per (variant, db); ratio = median over runs of ready / ready of jdk17 (same db, same run).
printf '\n| variant | database | ready ms (median, min-max) | CPU ms at ready | Quarkus "started in" ms | x jdk17 |\n'
printf '|---|---|---|---|---|---|\n'
for db in ${DBS//,/ }; do
  for v in ${VARIANTS//,/ }; do
    rows="$(awk -v v="$v" -v d="$db" '$1 == v && $2 == d' "$RESULTS")"
    [ -n "$rows" ] || { printf '| %s | %s | failed | | | |\n' "$v" "$db"; continue; }
    wall="$(awk '{ print $4 }' <<<"$rows" | median)"
    lo="$(awk '{ print $4 }' <<<"$rows" | sort -n | head -1)"; hi="$(awk '{ print $4 }' <<<"$rows" | sort -n | tail -1)"
    cpu="$(awk '{ print $5 }' <<<"$rows" | median)"
    q="$(awk '{ print $6 }' <<<"$rows" | median)"
    ratio="$(awk -v v="$v" -v d="$db" '$2 == d && $1 == "jdk17" { base[$3] = $4 } $2 == d && $1 == v { mine[$3] = $4 }
      END { for (r in mine) if (r in base && base[r] > 0) printf "%.2f\n", mine[r] / base[r] }' "$RESULTS" | sort -n \
      | awk '{ a[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print a[(NR + 1) / 2]; else printf "%.2f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }')"
    printf '| %s | %s | %s (%s-%s) | %s | %s | %s |\n' "$v" "$db" "$wall" "$lo" "$hi" "$cpu" "$q" "$ratio"
  done
done
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
[ "$failed" = 0 ]
