#!/usr/bin/env bash
# Installs what strand needs on Debian 12 (idempotent), then configures and builds.
#
#   scripts/setup.sh [--no-build] [--build-dir DIR] [--build-type TYPE]
#
# Environment: STRAND_BUILD_DIR (default build), STRAND_BUILD_TYPE (default Release),
# STRAND_JOBS (default: number of cores), STRAND_CMAKE_ARGS (extra cmake arguments),
# STRAND_DATA_DIR (where data packages that would pull in R are unpacked; default
# ${XDG_DATA_HOME:-$HOME/.local/share}/strand).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${STRAND_BUILD_DIR:-$here/build}"
build_type="${STRAND_BUILD_TYPE:-Release}"
do_build=1
while [ $# -gt 0 ]; do
  case "$1" in
    --no-build) do_build=0 ;;
    --build-dir) build_dir="$2"; shift ;;
    --build-type) build_type="$2"; shift ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "setup.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
  shift
done

say() { printf '[setup] %s\n' "$*"; }

# Build tools and libraries (Debian 12 package names).
packages=(
  build-essential cmake ninja-build ccache pkg-config git
  libtorch-dev libopenblas0-pthread libgloo-dev
  libhts-dev librdkit-dev libhdf5-dev libpugixml-dev
  libboost-program-options-dev nlohmann-json3-dev zlib1g-dev
  libgtest-dev libgmock-dev libbenchmark-dev
)
# Real data used by tests, the demo and `strand tasks build` (no dependencies beyond libjs-jquery).
data_packages=(
  htslib-test ncbi-data any2fasta-examples
  augustus-doc mmseqs2-examples infernal rdkit-data emboss-data
  openms-common  # HMDB SMILES (bench/chem_lm_evidence.sh, bench/finetune_evidence.sh)
  bowtie-examples  # E. coli 536 genome (bench/finetune_evidence.sh)
  openms-doc lutefisk  # BSA mzML runs and an annotated QTOF spectrum (spectra tests)
)
# Data packages whose dependencies would pull in R: downloaded and unpacked with dpkg -x into
# $data_dir/PACKAGE (never installed), where `strand tasks build` looks for them.
download_packages=(
  r-bioc-biostrings
)
data_dir="${STRAND_DATA_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/strand}"


missing=()
for p in "${packages[@]}" "${data_packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${#missing[@]} Debian package(s): ${missing[*]}"
  sudo_cmd=()
  if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -q
  "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  say "all Debian packages already installed"
fi

for p in "${download_packages[@]}"; do
  if [ -f "$data_dir/$p/.complete" ]; then
    say "$p already unpacked in $data_dir/$p"
    continue
  fi
  say "downloading $p (unpacked into $data_dir/$p; R is not installed)"
  tmp="$(mktemp -d)"
  chmod 1777 "$tmp"  # as root, apt downloads as user _apt, which must be able to write here
  mkdir -p "$data_dir"
  if ! (cd "$tmp" && apt-get download -q "$p" >/dev/null); then
    echo "setup.sh: 'apt-get download $p' failed (run 'apt-get update' first?)" >&2
    rm -rf "$tmp"
    exit 1
  fi
  rm -rf "$data_dir/$p.partial"
  dpkg -x "$tmp"/"$p"_*.deb "$data_dir/$p.partial"
  touch "$data_dir/$p.partial/.complete"
  rm -rf "$data_dir/$p"
  mv "$data_dir/$p.partial" "$data_dir/$p"
  rm -rf "$tmp"
done

# LibTorch links libblas.so.3 through Debian's alternatives; make sure it is OpenBLAS (pthread),
# not the reference BLAS (about 30x slower matmul).
blas_link="$(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3 2>/dev/null || true)"
case "$blas_link" in
  *openblas*) say "BLAS: $blas_link" ;;
  *) say "WARNING: libblas.so.3 resolves to '$blas_link', not OpenBLAS; matmul will be slow" ;;
esac

[ "$do_build" -eq 1 ] || exit 0

jobs="${STRAND_JOBS:-$(nproc)}"
generator=()
if command -v ninja >/dev/null 2>&1; then generator=(-G Ninja); fi
if [ -f "$build_dir/CMakeCache.txt" ] && ! grep -q "CMAKE_HOME_DIRECTORY:INTERNAL=$here\$" "$build_dir/CMakeCache.txt"; then
  say "build directory $build_dir belongs to another source tree; reconfiguring from scratch"
  rm -rf "$build_dir"
fi
say "configuring ($build_type) in $build_dir"
# shellcheck disable=SC2086
cmake -S "$here" -B "$build_dir" "${generator[@]}" -DCMAKE_BUILD_TYPE="$build_type" ${STRAND_CMAKE_ARGS:-}
say "building with $jobs job(s)"
start=$(date +%s)
cmake --build "$build_dir" -j "$jobs"
say "build finished in $(( $(date +%s) - start )) s: $build_dir/bin/strand"
