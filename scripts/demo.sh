#!/usr/bin/env bash
# The main job on real data: tokenize a complete bacterial genome (Escherichia coli 536,
# NC_008253, 4.94 Mbp, from Debian's bowtie-examples) with three tokenizers and print statistics.
#
#   scripts/demo.sh            (installs and builds first, like scripts/test.sh)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${STRAND_BUILD_DIR:-$here/build}"
STRAND_BUILD_DIR="$build_dir" "$here/scripts/setup.sh"

genome=/usr/share/doc/bowtie/examples/genomes/NC_008253.fna.gz
if [ ! -f "$genome" ]; then
  echo "[demo] installing the demo genome (Debian package bowtie-examples)"
  sudo_cmd=()
  if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends bowtie-examples
fi

strand="$build_dir/bin/strand"
out="${STRAND_DEMO_OUT:-$here/out/demo}"
mkdir -p "$out"

"$strand" info --no-bench
echo
for tok in char ntv2-6mer codon; do
  echo "[demo] strand tokenize --tokenizer $tok (windows of 6,000 bp, stride 5,000)"
  "$strand" tokenize -i "$genome" --tokenizer "$tok" --window 6000 --stride 5000 \
    --stats -o "$out/ecoli536.$tok.safetensors"
  echo
done
echo "[demo] outputs in $out"
