#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan) in build-fuzz/ and runs each for a while.
#
#   scripts/fuzz.sh [--seconds N] [TARGET...]
#
# Targets default to all of them (tests/fuzz/fuzz.cmake). Each run starts from a copy of its seed
# corpus (real test files of the repository) in build-fuzz/corpus/TARGET, which keeps what the
# fuzzer finds between runs; the repository is never written to. A crash leaves its input in
# build-fuzz/findings/TARGET; turn each into a regression test named after what broke.
# The last line of each run ("Done N runs in S second(s)") is the figure to record.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$here/build-fuzz"
seconds=60
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="$2"; shift ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) targets+=("$1") ;;
  esac
  shift
done
[ ${#targets[@]} -gt 0 ] || targets=(fastx_fuzz safetensors_fuzz tokenizer_json_fuzz gc_prt_fuzz codon_usage_fuzz annotation_fuzz selfies_fuzz spectra_fuzz)

say() { printf '[fuzz] %s\n' "$*"; }

if ! command -v clang++-14 >/dev/null 2>&1; then
  say "clang++-14 is missing: sudo apt-get install clang-14 libclang-rt-14-dev" >&2
  exit 1
fi

flags="-fsanitize=fuzzer-no-link,address,undefined"
say "configuring $build"
CC=clang-14 CXX=clang++-14 cmake -S "$here" -B "$build" -G Ninja -DSTRAND_FUZZ=ON -DSTRAND_BUILD_BENCH=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_FLAGS="$flags" -DCMAKE_CXX_FLAGS="$flags" >/dev/null
cmake --build "$build" --target "${targets[@]}"

# Seed corpora (files, or folders whose files are taken): the real files the unit tests read.
seeds_for() {
  case "$1" in
    fastx_fuzz) echo "$here/tests/data/io $here/tests/data/io/bad $here/tests/data/pipelines" ;;
    safetensors_fuzz) echo "$here/tests/fuzz/corpus/safetensors" ;;
    tokenizer_json_fuzz) echo "$here/tests/fuzz/corpus/tokenizer_json" ;;
    gc_prt_fuzz) echo "$here/tests/data/bio/gc.prt" ;;
    codon_usage_fuzz) echo "$here/tests/data/bio/Eecoli.cut $here/tests/data/bio/Ehuman.cut" ;;
    selfies_fuzz) echo "$here/tests/fuzz/corpus/selfies" ;;
    spectra_fuzz) echo "$here/tests/data/spectra" ;;
    *) echo "" ;;
  esac
}

status=0
for t in "${targets[@]}"; do
  corpus="$build/corpus/$t"
  findings="$build/findings/$t"
  mkdir -p "$corpus" "$findings"
  for d in $(seeds_for "$t"); do
    find "$d" -maxdepth 1 -type f -size -1000k -exec cp -n {} "$corpus/" \;
  done
  say "$t: ${seconds} s from $(find "$corpus" -type f | wc -l) corpus files"
  if ! "$build/fuzz/$t" "$corpus" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
      -artifact_prefix="$findings/" -print_final_stats=1 2>"$build/$t.log"; then
    say "$t: FAILED, see $build/$t.log and $findings" >&2
    status=1
  fi
  grep -E "^Done [0-9]+ runs" "$build/$t.log" | sed "s/^/[fuzz] $t: /" || true
done
exit $status
