#!/usr/bin/env bash
# Chemical language models on HMDB (bench/RESULTS.md, "Chemical language models on HMDB"):
# trains a causal SMILES model and a causal SELFIES model on the same molecules, samples from
# each and scores the samples with `strand evaluate-molecules` (validity, uniqueness, novelty
# against the training molecules, similarity and properties against held-out molecules).
#
#   bench/chem_lm_evidence.sh OUT [smiles|selfies ...]
#
# Data: the 114,107 HMDB metabolites of the Debian package openms-common
# (/usr/share/openms/CHEMISTRY/HMDB2StructMapping.tsv: id, name, SMILES, InChI), canonicalised by
# RDKit; molecules whose canonical SMILES has at most MAX_CHARS characters are kept and shuffled
# under a fixed seed; TEST of them are held out as the reference set, the rest are the training set.
#
# Environment (defaults in brackets): ARCH [tiny], STEPS [2500], BATCH [32], SEQ_LEN [192],
# SAMPLES [10000], MAX_CHARS [150], TEST [5000], THREADS [1], STRAND [build/bin/strand].
# Every stage whose output exists is skipped, so an interrupted run continues where it stopped.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:?usage: bench/chem_lm_evidence.sh OUT [smiles|selfies ...]}"
shift
kinds=("$@")
if [ ${#kinds[@]} -eq 0 ]; then kinds=(smiles selfies); fi
arch="${ARCH:-tiny}"
steps="${STEPS:-2500}"
batch="${BATCH:-32}"
seq_len="${SEQ_LEN:-192}"
samples="${SAMPLES:-10000}"
max_chars="${MAX_CHARS:-150}"
test_n="${TEST:-5000}"
threads="${THREADS:-1}"
strand="${STRAND:-$here/build/bin/strand}"
hmdb=/usr/share/openms/CHEMISTRY/HMDB2StructMapping.tsv
export OPENBLAS_NUM_THREADS="$threads"
run() { echo "+ $*" >&2; "$@"; }

if [ ! -f "$hmdb" ]; then
  echo "chem_lm_evidence.sh: $hmdb is missing: install the Debian package openms-common" >&2
  exit 1
fi
mkdir -p "$out"
if [ ! -f "$out/test.smi" ]; then
  run "$strand" molecules convert -i "$hmdb" --no-header --smiles-column 3 --name-column 1 -o "$out/hmdb.smi" -q
  # A fixed pseudo-random order (shuf reading its randomness from a constant stream).
  awk -v n="$max_chars" 'length($1) <= n { print $1 }' "$out/hmdb.smi" |
    shuf --random-source=<(yes strand) > "$out/shuffled.smi"
  head -n "$test_n" "$out/shuffled.smi" > "$out/test.smi.tmp"
  tail -n +"$((test_n + 1))" "$out/shuffled.smi" > "$out/train.smi"
  rm "$out/shuffled.smi"
  mv "$out/test.smi.tmp" "$out/test.smi"
fi
if [ ! -f "$out/train.selfies" ]; then
  run "$strand" molecules convert -i "$out/train.smi" -o "$out/train.selfies" -q
fi
echo "training molecules: $(wc -l < "$out/train.smi"), held out: $(wc -l < "$out/test.smi")"

for kind in "${kinds[@]}"; do
  case "$kind" in
    smiles) data="$out/train.smi" ;;
    selfies) data="$out/train.selfies" ;;
    *) echo "unknown kind '$kind' (smiles or selfies)" >&2; exit 2 ;;
  esac
  model="$out/$kind-$arch"
  if [ ! -f "$model/model.safetensors" ]; then
    run "$strand" pretrain --data "$data" --tokenizer "$kind" --arch "$arch" --objective clm --steps "$steps" \
      --batch "$batch" --seq-len "$seq_len" --lr 2e-3 --val-every 250 --val-windows 64 --checkpoint-every 250 \
      --threads "$threads" --resume --out "$model" -q
  fi
  if [ ! -f "$out/$kind-samples.smi" ]; then
    run "$strand" generate -m "$model" -n "$samples" --batch 250 --temperature 1.0 --max-tokens "$seq_len" \
      --seed 1 --threads "$threads" -q -o "$out/$kind-samples.smi"
  fi
  if [ ! -f "$out/$kind-metrics.json" ]; then
    run "$strand" evaluate-molecules -i "$out/$kind-samples.smi" --train "$out/train.smi" --reference "$out/test.smi" \
      --threads "$threads" -o "$out/$kind-metrics.json" -q
  fi
done

echo "| model | samples | validity | uniqueness | novelty | IntDiv1 | SNN | Frag | Scaf |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
for kind in "${kinds[@]}"; do
  m="$out/$kind-metrics.json"
  value() { tr -d ' \n' < "$m" | sed -n "s/.*\"$1\":\([-0-9][-0-9.eE+]*\).*/\1/p" | xargs printf '%.4f'; }
  printf '| %s %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$kind" "$arch" \
    "$(tr -d ' \n' < "$m" | sed -n 's/.*"samples":\([0-9][0-9]*\).*/\1/p')" "$(value validity)" "$(value uniqueness)" \
    "$(value novelty)" "$(value int_div1)" "$(value snn)" "$(value frag)" "$(value scaf)"
done
