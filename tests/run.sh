#!/usr/bin/env bash
# The whole test suite: installs what it needs, builds from scratch with
# warnings as errors (once plain, once with AddressSanitizer +
# UndefinedBehaviorSanitizer), checks formatting, and runs every test against a
# throwaway PostgreSQL cluster (pg_virtualenv) and real voc-bus brokers.
set -euo pipefail
[ "$(id -u)" = 0 ] || exec sudo "$0" "$@"
cd "$(dirname "$0")/.."
deploy/local/install-deps.sh

jobs=$(nproc)
build() {
  local dir=$1; shift
  rm -rf "$dir"
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
  cmake --build "$dir" -j"$jobs"
}

echo "== format (clang-format --dry-run -Werror)"
files=$(find common include services tests -name '*.[ch]' | sort)
clang-format --dry-run -Werror $files

echo "== build (plain)"
build build/test
echo "== clang-tidy (.clang-tidy; warnings are errors)"
# The compile database comes from GCC; clang does not know GCC-only warnings.
find common services tests -name '*.c' | sort |
  xargs -P"$jobs" -n4 clang-tidy -p build/test --quiet --extra-arg=-Wno-unknown-warning-option
echo "== build (ASan + UBSan)"
build build/asan -DVOC_SANITIZE=ON

# Check's default per-test timeout (4 s) is for a quiet machine; unit tests that
# run binaries or build large inputs need more on 2 loaded cores, doubly so
# under the sanitizers. Cases that set their own timeout keep it.
export CK_DEFAULT_TIMEOUT=30
run_suite() {
  # -t: a cluster of its own, so parallel runs (as root) do not collide.
  pg_virtualenv -t -- ctest --test-dir "$1" --output-on-failure --timeout 900
}
echo "== tests (plain)"
run_suite build/test
echo "== tests (ASan + UBSan)"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  CK_TIMEOUT_MULTIPLIER=2 run_suite build/asan
echo "all test runs passed"
