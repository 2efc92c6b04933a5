#!/usr/bin/env bash
# The main jobs on real data, a complete bacterial genome (Escherichia coli 536, NC_008253,
# 4.94 Mbp, from Debian's bowtie-examples): tokenize it with three tokenizers and print
# statistics; pretrain the tiny model on it for a few minutes and show the validation bits per
# base fall below the order-0 entropy of the validation data; write embeddings to HDF5.
#
#   scripts/demo.sh            (installs and builds first, like scripts/test.sh)
#
# Environment: STRAND_DEMO_STEPS (default 200) training steps, STRAND_DEMO_OUT output folder.
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
steps="${STRAND_DEMO_STEPS:-200}"
model="$out/ecoli536-tiny"
rm -rf "$model" "$out/ce.embeddings.h5" "$out/ce.embeddings.h5.partial"
echo "[demo] strand pretrain: tiny causal model (char tokenizer), $steps steps of 16 x 256 bp windows"
"$strand" pretrain --data "$genome" --tokenizer char --arch tiny --objective clm \
  --steps "$steps" --batch 16 --seq-len 256 --lr 3e-3 --val-every 50 --val-windows 64 \
  --checkpoint-every 100 --log-every 10 --out "$model"
echo
echo "[demo] validation bits per base during training (metrics.jsonl):"
sed -n 's/.*"step":\([0-9]*\).*"val_bits_per_base":\([0-9.e+-]*\).*/  step \1: \2 bits per base/p' "$model/metrics.jsonl"
echo
echo "[demo] strand embed: mean-pooled final-layer embeddings of 1 kb windows of six C. elegans contigs (tests/data/io/ce_small.fa, from htslib-test)"
"$strand" embed -m "$model" -i "$here/tests/data/io/ce_small.fa" --window 1000 --batch 8 -o "$out/ce.embeddings.h5"
echo
echo "[demo] outputs in $out:"
echo "  $model/   model directory (config.json, model.safetensors, tokenizer.json, metrics.jsonl)"
echo "  $out/ce.embeddings.h5   embeddings (h5dump -H to inspect)"
echo "  $out/ecoli536.*.safetensors   token ids"
