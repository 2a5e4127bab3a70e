#!/usr/bin/env bash
# Installs what the benchmarks need beyond scripts/test's packages (wrk,
# valgrind, strace, the peer job queue) and builds the binaries they measure into
# build-bench/ (RelWithDebInfo: optimised, with symbols for the profiles),
# with authz-sink (FGAC_BENCH_TOOLS) for bench/worker-sink.
# Idempotent: a second run installs nothing and rebuilds only what changed.
# BENCH_BIN_DIR=/path/to/bin skips the build and measures those binaries.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib/common.sh"

readonly BENCH_APT_PACKAGES=(wrk valgrind strace)

ensure_packages
missing=()
for pkg in "${BENCH_APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]} > 0)); then
  say "installing benchmark packages: ${missing[*]}"
  sudo=()
  [[ $(id -u) -eq 0 ]] || sudo=(sudo)
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

ensure_npm "$REPO_DIR/deploy/local/authz-server"
ensure_npm "$REPO_DIR/bench/graphile"

if [[ -z "${BENCH_BIN_DIR:-}" ]]; then
  # Warnings are not errors here: GCC 12 at -O2/-O3 reports a false -Wrestrict in libstdc++ code.
  say "building build-bench (RelWithDebInfo)"
  cmake -S "$REPO_DIR" -B "$REPO_DIR/build-bench" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFGAC_BUILD_TESTS=OFF \
    -DFGAC_WERROR=OFF -DFGAC_BENCH_TOOLS=ON >/dev/null
  cmake --build "$REPO_DIR/build-bench" -j "$JOBS" --target task-api outbox-worker taskctl authz-sink
fi
