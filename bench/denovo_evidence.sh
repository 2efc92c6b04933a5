#!/usr/bin/env bash
# De novo sequencing evidence (bench/RESULTS.md, "De novo peptide sequencing"): a small model
# trained on simulated spectra of E. coli K12 tryptic peptides, scored on held-out simulated
# spectra (peptides disjoint from training) and on the 128 real annotated spectra of Casanovo's
# sample file; sequencing throughput with beam 1 and beam 5.
#
#   bench/denovo_evidence.sh OUT
#
# Environment (defaults in brackets): ARCH [tiny], TRAIN [20000] and TEST [1000] simulated
# spectra, STEPS [3000] stage-1 and STAGE2 [500] stage-2 steps, BATCH [32], THREADS [1],
# STRAND [build/bin/strand]. Every stage whose output exists is skipped.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:?usage: bench/denovo_evidence.sh OUT}"
arch="${ARCH:-tiny}"
train_n="${TRAIN:-20000}"
test_n="${TEST:-1000}"
steps="${STEPS:-3000}"
stage2="${STAGE2:-500}"
batch="${BATCH:-32}"
threads="${THREADS:-1}"
strand="${STRAND:-$here/build/bin/strand}"
fasta=/usr/share/doc/openms/examples/TOPPAS/data/Identification/target_decoy_Ecoli_K12_TaxID_83333.proteomes.fasta
real="$here/tests/data/spectra/casanovo_sample_preprocessed_spectra.mgf"
export OPENBLAS_NUM_THREADS="$threads"
run() { echo "+ $*" >&2; "$@"; }
if [ ! -f "$fasta" ]; then
  echo "denovo_evidence.sh: $fasta is missing: install the Debian package openms-doc" >&2
  exit 1
fi
mkdir -p "$out"
# Target proteins only (the file also holds reversed decoys, "rev_" / DECOY entries).
if [ ! -f "$out/ecoli_targets.fasta" ]; then
  awk '/^>/ { keep = ($0 !~ /rev_|DECOY|decoy/) } keep' "$fasta" > "$out/ecoli_targets.fasta.tmp"
  mv "$out/ecoli_targets.fasta.tmp" "$out/ecoli_targets.fasta"
fi
if [ ! -f "$out/sim.test.mgf" ]; then
  run "$strand" denovo simulate --fasta "$out/ecoli_targets.fasta" --out "$out/sim" --train-spectra "$train_n" \
    --test-spectra "$test_n" -q
fi
if [ ! -f "$out/run/model/config.json" ]; then
  run "$strand" denovo train --train "$out/sim.train.mgf" --valid "$out/sim.test.mgf" --arch "$arch" --steps "$steps" \
    --stage2-steps "$stage2" --batch "$batch" --lr 1e-3 --val-every 500 --checkpoint-every 500 --threads "$threads" \
    --resume --out "$out/run" -q
fi
for beams in 1 5; do
  for set in sim real; do
    spectra="$out/sim.test.mgf"
    if [ "$set" = real ]; then spectra="$real"; fi
    if [ ! -f "$out/$set-beam$beams.json" ]; then
      run "$strand" denovo sequence -m "$out/run/model" -o "$out/$set-beam$beams.mztab" "$spectra" --beams "$beams" \
        --threads "$threads" 2> "$out/$set-beam$beams.log"
      run "$strand" denovo evaluate -p "$out/$set-beam$beams.mztab" -s "$spectra" -o "$out/$set-beam$beams" -q \
        > /dev/null
    fi
    echo "$set beam $beams: $(grep -o 'in [0-9.]* s ([0-9.]* spectra/s)' "$out/$set-beam$beams.log")"
    tr -d '\n ' < "$out/$set-beam$beams.json" | sed 's/,"/\n"/g' | grep -E '"(aa_precision|aa_recall|peptide_recall|aupc)"'
  done
done
