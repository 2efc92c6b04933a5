#!/usr/bin/env bash
# Installs dependencies, builds, and runs the unit tests (ctest label "unit"; GPU cases skip
# themselves without a GPU).
#
#   scripts/test.sh [extra ctest arguments]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${STRAND_BUILD_DIR:-$here/build}"
STRAND_BUILD_DIR="$build_dir" "$here/scripts/setup.sh"
echo "[test] running the unit tests"
start=$(date +%s)
ctest --test-dir "$build_dir" --output-on-failure -j "${STRAND_JOBS:-$(nproc)}" -L unit "$@"
echo "[test] tests finished in $(( $(date +%s) - start )) s"
