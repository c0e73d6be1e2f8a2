#!/usr/bin/env bash
# Runs GraalVM's native-image builder over Tether up to the relocatable object (everything but the link),
# without a GraalVM installation: the builder's jars come from Maven Central and run on Temurin 25 with JVMCI.
# It shows what a real native build reports (unsupported features, classes initialised at build time,
# missing reflection registrations) and how many types and methods the image holds; it cannot link
# (the static JDK libraries are only in GraalVM/Mandrel). See README, "Native image".
#
#   ./mvnw package -Dnative -Dquarkus.native.sources-only=true -DskipTests   # writes target/native-sources
#   bash deploy/native/check.sh        # to the relocatable object: ~5 min on 2 idle cores, peak RSS 4.5 GB
#
# Environment: W (work directory, default target/native-builder), XMX (builder heap, default 6g),
# TEMURIN (a JDK 25 with JVMCI, default /usr/lib/jvm/temurin-25*). Extra arguments go to the builder (-H:...).
# The setup mirrors the feasibility recipe this project started from (Hello World through the same builder);
# its steps 1-3 are repeated here, step 5 runs with Tether's native-image.args instead of Hello World.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
SOURCES=$ROOT/target/native-sources
[ -f "$SOURCES/native-image.args" ] || { echo "no $SOURCES/native-image.args: run ./mvnw package -Dnative -Dquarkus.native.sources-only=true -DskipTests" >&2; exit 2; }
W=${W:-$ROOT/target/native-builder}
TEMURIN=${TEMURIN:-$(ls -d /usr/lib/jvm/temurin-25* | head -1)}
XMX=${XMX:-6g}
GV=25.0.4
mkdir -p "$W" && cd "$W"

# 1. The builder's jars (svm and what it pulls in), and svm's sources for the C headers below.
if [ ! -f jars/svm-$GV.jar ] || [ ! -d src/svm ]; then
  cat > pom.xml <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>
<groupId>tether.native-check</groupId><artifactId>builder</artifactId><version>1</version><packaging>pom</packaging>
<dependencies><dependency><groupId>org.graalvm.nativeimage</groupId><artifactId>svm</artifactId><version>$GV</version></dependency></dependencies></project>
POM
  mvn -q -B dependency:copy-dependencies -DoutputDirectory="$W/jars"
  mvn -q -B dependency:copy -Dartifact=org.graalvm.nativeimage:svm:$GV:jar:sources -DoutputDirectory="$W/src"
  mkdir -p src/svm && (cd src/svm && unzip -q -o ../svm-$GV-sources.jar)
fi

# 2. A writable copy of Temurin 25 shaped like a GraalVM home.
[ -d jdk ] || cp -a "$TEMURIN" jdk
CLIB=$W/jdk/lib/svm/clibraries/linux-amd64
mkdir -p jdk/lib/svm/builder/lib "$CLIB/include" "$CLIB/glibc"
if [ ! -f jdk/lib/svm/builder/lib/libreporterchelper.so ]; then
  # 2a. The builder's progress reporter's JNI helper (not on Maven Central): two functions.
  cat > reporterchelper.c <<'C'
#include <jni.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <unistd.h>
JNIEXPORT jint JNICALL Java_com_oracle_svm_hosted_ProgressReporterCHelper_getTerminalWindowColumns0(JNIEnv *e, jclass c) {
  struct winsize w; return ioctl(STDOUT_FILENO, TIOCGWINSZ, &w) == 0 ? w.ws_col : -1; }
JNIEXPORT jlong JNICALL Java_com_oracle_svm_hosted_ProgressReporterCHelper_getPeakRSS0(JNIEnv *e, jclass c) {
  struct rusage r; return getrusage(RUSAGE_SELF, &r) == 0 ? (jlong) r.ru_maxrss * 1024 : -1; }
C
  gcc -O2 -fPIC -shared -I jdk/include -I jdk/include/linux -o jdk/lib/svm/builder/lib/libreporterchelper.so reporterchelper.c
fi
# 2b. C headers the builder's C queries include, generated from the @CField accessors in svm's sources.
for a in amd64:amd64:AMD64 aarch64:aarch64:AArch64 riscv64:riscv64:RISCV64; do
  IFS=: read -r hdr pkg cls <<<"$a"
  { echo "typedef struct {"
    awk '/@CField/{getline; print}' src/svm/com/oracle/svm/core/$pkg/${cls}LibCHelper.java \
      | grep -oE '\bf[A-Za-z0-9_]+\(' | tr -d '(' | sed 's/^/  char /; s/$/;/'
    echo "} CPUFeatures;"; } > "$CLIB/include/${hdr}cpufeatures.h"
done
cat > "$CLIB/include/svm_locale.h" <<'H'
const int SVM_LOCALE_INITIALIZATION_USE_DEFAULT = 0;
const int SVM_LOCALE_INITIALIZATION_SUCCEEDED = 1;
const int SVM_LOCALE_INITIALIZATION_OUT_OF_MEMORY = 2;
typedef struct { char *format_language, *format_script, *format_country, *format_variant,
                      *display_language, *display_script, *display_country, *display_variant; } svm_locale_props_t;
H

# 3. --add-exports of every JDK package to the Graal modules (what the native-image launcher passes).
if [ ! -s exports.args ]; then
  T=org.graalvm.nativeimage.builder,org.graalvm.nativeimage.base,org.graalvm.nativeimage.pointsto,org.graalvm.nativeimage.objectfile,org.graalvm.nativeimage.configure,jdk.graal.compiler,org.graalvm.truffle.compiler,org.graalvm.espresso.shared.svm,org.graalvm.nativeimage.libgraal
  for m in java.base jdk.internal.vm.ci java.management jdk.management jdk.jfr jdk.unsupported jdk.zipfs java.logging java.xml java.desktop java.naming jdk.net jdk.attach jdk.internal.jvmstat java.security.jgss jdk.crypto.cryptoki jdk.httpserver java.net.http jdk.management.agent java.instrument java.prefs jdk.internal.opt jdk.compiler java.compiler jdk.security.auth; do
    jdk/bin/java --describe-module $m 2>/dev/null | awk -v m=$m -v t=$T \
      '($1=="contains"||($1=="qualified"&&$2=="exports")){p=($1=="contains")?$2:$3; print "--add-exports=" m "/" p "=" t}'
  done | sort -u > exports.args
fi

# 4. Tether's native-image.args (driver arguments) as builder arguments (what the launcher would do).
mkdir -p out tmp
jdk/bin/java "$ROOT/deploy/native/BuilderArgs.java" "$SOURCES" "$W"
mapfile -t JVM_ARGS < jvm.args
mapfile -t BUILDER_ARGS < builder.args

# 5. The builder, stopping once the relocatable object is written.
MP=$(ls "$W"/jars/*.jar | grep -v '/compiler-' | paste -sd:)
export JVMCI_VERSION_CHECK=ignore   # Graal 25.0.4 asks for JVMCI of JDK 25.0.4; Temurin may be older
cd "$SOURCES"
"$W/jdk/bin/java" -XX:+UseParallelGC -XX:+UnlockExperimentalVMOptions -XX:+EnableJVMCI -XX:-UseJVMCICompiler \
  -Xss10m -Xmx"$XMX" -Xshare:off -Djava.awt.headless=true \
  -Dtruffle.TrustAllTruffleRuntimeProviders=true -Dtruffle.TruffleRuntime=com.oracle.truffle.api.impl.DefaultTruffleRuntime \
  -Dgraalvm.ForcePolyglotInvalid=true -Dgraalvm.locatorDisabled=true -Djdk.internal.lambda.disableEagerInitialization=true \
  -Dcom.oracle.graalvm.isaot=true -Djava.system.class.loader=com.oracle.svm.hosted.NativeImageSystemClassLoader \
  -Dorg.graalvm.nativeimage.imagecode=buildtime -Dorg.graalvm.version=$GV -Dorg.graalvm.vendor=tether-check \
  -Dorg.graalvm.vendorversion="GraalVM CE $GV+7.1" \
  --enable-native-access=org.graalvm.nativeimage.builder \
  --upgrade-module-path "$W/jars/compiler-$GV.jar" --module-path "$MP" --add-modules=ALL-DEFAULT @"$W/exports.args" \
  "${JVM_ARGS[@]}" \
  -m org.graalvm.nativeimage.builder/com.oracle.svm.hosted.NativeImageGeneratorRunner \
  "${BUILDER_ARGS[@]}" -H:Path="$W/out" \
  -H:ImageBuildID="$(cat /proc/sys/kernel/random/uuid)" \
  -H:CLibraryPath="$CLIB" -H:CLibraryPath="$CLIB/glibc" \
  -H:TempDirectory="$W/tmp" -H:+ExitAfterRelocatableImageWrite "$@"
O=$(ls -t $(find "$W/tmp" -name '*.o') | head -1)
echo "Relocatable image: $O ($(du -h "$O" | cut -f1))"
