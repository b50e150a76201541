#!/usr/bin/env bash
# Runs the whole test suite. Installs and starts what the tests need when it
# is missing (Debian packages: SIPp, baresip, PostgreSQL, sox), so it also
# passes on a machine that has none of them. With CI set, a missing peer is
# a test failure, not a skip.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v sipp >/dev/null 2>&1 || need_apt+=(sip-tester)
command -v baresip >/dev/null 2>&1 || need_apt+=(baresip)
command -v sox >/dev/null 2>&1 || need_apt+=(sox)
command -v psql >/dev/null 2>&1 || need_apt+=(postgresql postgresql-client)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "installing: ${need_apt[*]}"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

pg_url="${HOTLINE_TEST_PG:-postgres://postgres@127.0.0.1:5432/postgres}"
if ! psql "$pg_url" -Atc 'select 1' >/dev/null 2>&1; then
  echo "starting PostgreSQL"
  scripts/start-postgres.sh
fi

# Databases left by earlier test runs.
psql "$pg_url" -Atc "select datname from pg_database where datname like 'hotline_test_%'" 2>/dev/null |
  while read -r db; do psql "$pg_url" -qc "drop database if exists \"$db\"" >/dev/null 2>&1 || true; done

cargo fmt --all -- --check
cargo clippy --all-targets --locked -- -D warnings
cargo test --all-targets --locked "$@"
# The HTTP tests once more, with their store on PostgreSQL.
HOTLINE_TEST_PG="$pg_url" cargo test --locked --test api_auth --test api_tickets --test api_archive \
  --test archive_import "$@"
# The parsers of hostile input under libFuzzer for a bounded time each
# (fuzz/, scripts/fuzz.sh): a crash, a hang or running out of memory fails
# the run. HOTLINE_FUZZ_SECONDS=0 leaves it out. In CI the fuzz build keeps
# its folder outside the fresh clone, so that the instrumented dependencies
# are built once per machine rather than on every run.
fuzz_seconds="${HOTLINE_FUZZ_SECONDS:-10}"
if [ "$fuzz_seconds" != 0 ]; then
  if [ -n "${CI:-}" ]; then
    export HOTLINE_FUZZ_TARGET_DIR="${HOTLINE_FUZZ_TARGET_DIR:-$HOME/.cache/hotline/fuzz-target}"
  fi
  scripts/fuzz.sh --time "$fuzz_seconds"
fi
