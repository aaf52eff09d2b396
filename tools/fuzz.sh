#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz) with clang, ASan and UBSan in build-fuzz/, replays the
# saved reproducers in tests/fuzz/regressions/<target>/, then fuzzes each target for a bounded
# time on a copy of its seed corpus. Exits non-zero if any reproducer or fuzz run crashes.
#
#   tools/fuzz.sh [SECONDS_PER_TARGET]     (default 30)
#
# Environment:
#   FUZZ_TARGETS   space-separated subset of the targets (default: all)
#   FUZZ_BUILD_DIR build directory (default: build-fuzz in the checkout)
#   FUZZ_JOBS      parallel build jobs (default: nproc)
#   FUZZ_KEEP=1    keep the temporary corpora and logs (their path is printed)
#
# Needs tools/setup-host.sh (clang, libclang-rt-dev), tools/build-libzmq.sh and
# tools/build-mbedtls.sh (tools/prepare.sh runs all three): the top-level CMake configure
# requires the static libzmq and Mbed TLS even though most fuzz targets link neither.
# Crash inputs are copied to $FUZZ_BUILD_DIR/fuzz-artifacts/<target>/; to keep one as a regression
# test, copy it into tests/fuzz/regressions/<target>/.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-30}
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -lt 1 ]; then
  echo "usage: tools/fuzz.sh [SECONDS_PER_TARGET]" >&2
  exit 2
fi

all_targets=(fuzz_request fuzz_config fuzz_app_message fuzz_keys fuzz_endpoint fuzz_board fuzz_hal_control
             fuzz_http_response fuzz_laneswap_response fuzz_serf_session)
read -r -a targets <<<"${FUZZ_TARGETS:-${all_targets[*]}}"
build=${FUZZ_BUILD_DIR:-$here/build-fuzz}
jobs=${FUZZ_JOBS:-$(nproc)}
fuzz_src=$here/tests/fuzz

for tool in clang clang++ cmake; do
  command -v "$tool" >/dev/null || { echo "fuzz: $tool not found; run tools/setup-host.sh" >&2; exit 1; }
done

mkdir -p "$build"
gen=()
if [ ! -f "$build/CMakeCache.txt" ] && command -v ninja >/dev/null; then gen=(-G Ninja); fi
echo "fuzz: configuring $build"
CC=clang CXX=clang++ cmake -S "$here" -B "$build" "${gen[@]}" \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DRIGAGENT_FUZZ=ON -DRIGAGENT_TESTS=OFF -DRIGAGENT_STATIC=OFF -DRIGAGENT_SANITIZE=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$build/fuzz-configure.log" 2>&1 || {
  cat "$build/fuzz-configure.log" >&2
  exit 1
}
echo "fuzz: building ${targets[*]}"
cmake --build "$build" --target "${targets[@]}" -j"$jobs" >"$build/fuzz-build.log" 2>&1 || {
  tail -50 "$build/fuzz-build.log" >&2
  exit 1
}

work=$(mktemp -d "${TMPDIR:-/tmp}/rigagent-fuzz.XXXXXX")
if [ "${FUZZ_KEEP:-0}" = 1 ]; then
  echo "fuzz: keeping $work"
else
  trap 'rm -rf "$work"' EXIT
fi

# Stop at the first UBSan report, with a stack; leaks count as crashes.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:symbolize=1}

dict_for() {
  case "$1" in
    fuzz_endpoint) echo "$fuzz_src/endpoint.dict" ;;
    fuzz_http_response) echo "$fuzz_src/http.dict" ;;
    fuzz_serf_session) echo "$fuzz_src/serf.dict" ;;
    *) echo "$fuzz_src/json.dict" ;;
  esac
}

# The interesting part of a crash log: the input, the report and the frames in rigagent's code.
show_crash() {
  local pat='Running:|terminate called|what\(\)|fuzz invariant failed|runtime error:|==ERROR|SUMMARY|^ +#[0-9]+ .* in (rig::|LLVMFuzzerTestOneInput)|Test unit written'
  if grep -qE "$pat" "$1"; then
    grep -E "$pat" "$1" | head -40 >&2
  else
    tail -40 "$1" >&2
  fi
}

# "#123 DONE cov: 10 ft: 20 corp: 30/400b ..." and "stat::number_of_executed_units: 123".
stat_of() { sed -n "s/^stat::$1: *//p" "$2" | tail -n1; }
# (A run that crashes on its seed corpus prints no status line: no match is not an error.)
last_status_field() { { grep -E '^#[0-9]+' "$2" || true; } | tail -n1 | sed -n "s/.* $1: \([^ ]*\).*/\1/p"; }

failed=()
summary=()
for t in "${targets[@]}"; do
  bin=$build/tests/fuzz/$t
  [ -x "$bin" ] || { echo "fuzz: $bin was not built" >&2; exit 1; }
  dict=$(dict_for "$t")
  log=$work/$t.log
  artifacts=$work/artifacts/$t
  mkdir -p "$artifacts" "$work/corpus/$t"

  # 1. Saved reproducers: each must now pass.
  reg_dir=$fuzz_src/regressions/$t
  if [ -d "$reg_dir" ] && [ -n "$(ls -A "$reg_dir")" ]; then
    nreg=$(find "$reg_dir" -type f | wc -l)
    if "$bin" "$reg_dir"/* >"$work/$t.regressions.log" 2>&1; then
      echo "fuzz: $t: $nreg regression input(s) pass"
    else
      echo "fuzz: $t: a regression input in tests/fuzz/regressions/$t still crashes:" >&2
      show_crash "$work/$t.regressions.log"
      failed+=("$t(regression)")
    fi
  fi

  # 2. Bounded fuzzing on a copy of the seed corpus (new inputs go to the copy only).
  keep=$build/fuzz-artifacts/$t
  rm -rf "$keep"
  [ -d "$fuzz_src/corpus/$t" ] && cp -R "$fuzz_src/corpus/$t/." "$work/corpus/$t/"
  echo "fuzz: $t: fuzzing for ${seconds}s"
  rc=0
  "$bin" -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
    -dict="$dict" -artifact_prefix="$artifacts/" -print_final_stats=1 \
    "$work/corpus/$t" >"$log" 2>&1 || rc=$?

  execs=$(stat_of number_of_executed_units "$log")
  cov=$(last_status_field cov "$log")
  corp_files=$(find "$work/corpus/$t" -type f | wc -l)
  if [ "$rc" -ne 0 ]; then
    mkdir -p "$keep"
    cp -R "$artifacts/." "$keep/" 2>/dev/null || true
    echo "fuzz: $t: CRASH (exit $rc); reproducer(s) in $keep:" >&2
    ls "$keep" >&2 || true
    show_crash "$log"
    failed+=("$t")
    summary+=("$(printf '%-18s CRASH  execs=%-10s corpus=%-6s cov=%s' "$t" "${execs:-?}" "$corp_files" "${cov:-?}")")
  else
    summary+=("$(printf '%-18s ok     execs=%-10s corpus=%-6s cov=%s' "$t" "${execs:-?}" "$corp_files" "${cov:-?}")")
  fi
done

echo
echo "fuzz: summary (${seconds}s per target)"
printf '  %s\n' "${summary[@]}"
if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzz: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz: no crashes"
