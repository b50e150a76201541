#!/usr/bin/env bash
# Fuzzes the parsers of hostile input (fuzz/fuzz_targets/) with libFuzzer on
# the stable toolchain, without cargo-fuzz: builds the fuzz crate with the
# coverage instrumentation libfuzzer-sys needs, then runs each target for a
# bounded time or number of inputs.
#
#   scripts/fuzz.sh [TARGET] [--time SECONDS] [--runs N]
#
# Default: every target, 60 s each; with both limits, whichever comes first. Exits non-zero if any target crashed,
# hung (10 s on one input) or ran out of memory; the input that did it is in
# fuzz/artifacts/TARGET/. Reproduce one with
#   fuzz/target/x86_64-unknown-linux-gnu/release/TARGET fuzz/artifacts/TARGET/crash-…
# New inputs go to fuzz/target/corpus/TARGET (kept between runs, not
# committed); the seeds in fuzz/corpus/TARGET are only read.
#
# Stable rustc takes every coverage flag below as -C options; only a
# sanitizer (-Zsanitizer) would need nightly, and the crate forbids unsafe
# code, so the targets run without one, as `cargo fuzz run --sanitizer none`
# does. --target keeps the flags off build scripts and proc macros.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
  echo "usage: $0 [TARGET] [--time SECONDS] [--runs N]" >&2
  exit 2
}

target=""
time_limit=""
runs_limit=""
while [ $# -gt 0 ]; do
  case "$1" in
    --time) [ $# -ge 2 ] || usage; time_limit="$2"; shift 2 ;;
    --runs) [ $# -ge 2 ] || usage; runs_limit="$2"; shift 2 ;;
    -h | --help) usage ;;
    -*) usage ;;
    *) [ -z "$target" ] || usage; target="$1"; shift ;;
  esac
done

limit=()
[ -n "$time_limit" ] && limit+=(-max_total_time="$time_limit")
[ -n "$runs_limit" ] && limit+=(-runs="$runs_limit")
[ ${#limit[@]} -gt 0 ] || limit=(-max_total_time=60)

all_targets=()
for file in fuzz/fuzz_targets/*.rs; do
  all_targets+=("$(basename "$file" .rs)")
done
if [ -n "$target" ]; then
  [ -f "fuzz/fuzz_targets/$target.rs" ] || {
    echo "no fuzz target $target (have: ${all_targets[*]})" >&2
    exit 2
  }
  targets=("$target")
else
  targets=("${all_targets[@]}")
fi

# libfuzzer-sys compiles libFuzzer itself, which is C++.
if ! command -v c++ >/dev/null 2>&1; then
  echo "installing: g++"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq g++ >/dev/null
fi

host="$(rustc -vV | sed -n 's/^host: //p')"
export CARGO_TARGET_DIR="${HOTLINE_FUZZ_TARGET_DIR:-$PWD/fuzz/target}"
export RUSTFLAGS="--cfg fuzzing -Cpasses=sancov-module \
-Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
-Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares"
bin_args=()
for name in "${targets[@]}"; do bin_args+=(--bin "$name"); done
echo "building fuzz targets: ${targets[*]}"
# Not --locked: fuzz/Cargo.lock pins the fuzzing crates, and the daemon's own
# dependencies (pinned by the top-level Cargo.lock, which the tests build
# with --locked) are added to it when they change.
(cd fuzz && cargo build --release --target "$host" "${bin_args[@]}")
bin_dir="$CARGO_TARGET_DIR/$host/release"

# The scratch files of the targets that read a path (fuzz/src/lib.rs).
scratch="$(mktemp -d /dev/shm/hotline-fuzz.XXXXXX 2>/dev/null || mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
export HOTLINE_FUZZ_SCRATCH_DIR="$scratch"

failed=()
for name in "${targets[@]}"; do
  work="$CARGO_TARGET_DIR/corpus/$name"
  artifacts="fuzz/artifacts/$name"
  log="$CARGO_TARGET_DIR/logs/$name.log"
  mkdir -p "$work" "$artifacts" "$(dirname "$log")"
  echo "== $name (${limit[*]})"
  status=0
  "$bin_dir/$name" "${limit[@]}" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$artifacts/" "$work" "fuzz/corpus/$name" >"$log" 2>&1 || status=$?
  grep -E '^#[0-9]+[[:space:]]+DONE|^Done [0-9]+ runs|^stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb)' "$log" || true
  echo "corpus: $(find "$work" -type f | wc -l) new inputs kept in $work"
  if [ "$status" -ne 0 ]; then
    echo "FAILED: $name exited $status; the end of $log:" >&2
    tail -n 40 "$log" >&2
    failed+=("$name")
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzzing found problems in: ${failed[*]} (inputs in fuzz/artifacts/)" >&2
  exit 1
fi
echo "fuzzing: ${#targets[@]} targets, no crash"
