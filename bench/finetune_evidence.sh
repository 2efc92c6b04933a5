#!/usr/bin/env bash
# Fine-tuning evidence (bench/RESULTS.md, "Fine-tuning on real tasks"): for each task and backbone,
#   pretrained  a model pretrained on a matching real corpus, then fully fine-tuned
#   scratch     the same architecture (the pretrained model's config.json), randomly initialised,
#               fine-tuned with the same steps and batch
#   probe       the pretrained model frozen, a linear head on its pooled embeddings
#   k-mer       bench_kmer_baseline: k-mer frequencies + logistic regression
# and prints one markdown row per task and backbone with the test-split metric of each.
#
#   bench/finetune_evidence.sh OUT [TASK...]
#
# Tasks: ecoli-cds fly-coding fly-promoter pfam superkingdom tpsa (default: all six).
# Corpora: E. coli 536 genome (bowtie-examples; a different strain from the ecoli-cds task's
# assembly), D. melanogaster chr2R (augustus-doc; the fly tasks' chromosome, labels unused),
# 20,000 UniProt proteins (mmseqs2-examples; the superkingdom task's source, labels unused),
# 114,107 HMDB metabolites as RDKit canonical SMILES (openms-common; a different collection from
# the tpsa task's NCI molecules).
#
# Environment (defaults in brackets): BACKBONES [tiny mamba-0.5m], PRETRAIN_STEPS [400],
# FINETUNE_STEPS [150], THREADS [1], STRAND [build/bin/strand], KMER [build/bench/bench_kmer_baseline].
# Every stage whose output exists is skipped, so an interrupted run continues where it stopped.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:?usage: bench/finetune_evidence.sh OUT [TASK...]}"
shift
tasks=("$@")
if [ ${#tasks[@]} -eq 0 ]; then tasks=(ecoli-cds fly-coding fly-promoter pfam superkingdom tpsa); fi
read -r -a backbones <<< "${BACKBONES:-tiny mamba-0.5m}"
pretrain_steps="${PRETRAIN_STEPS:-400}"
finetune_steps="${FINETUNE_STEPS:-150}"
threads="${THREADS:-1}"
strand="${STRAND:-$here/build/bin/strand}"
kmer="${KMER:-$here/build/bench/bench_kmer_baseline}"
mkdir -p "$out"
export OPENBLAS_NUM_THREADS="$threads"

# Task sizes: the protein tasks and the fly tasks are capped per class (drawn before the split)
# so that every arm of the comparison fits a CPU budget.
task_options() {
  case "$1" in
    ecoli-cds) echo "" ;;
    fly-coding|fly-promoter) echo "--max-per-class 2000" ;;
    pfam) echo "--max-per-class 1000" ;;
    superkingdom) echo "--max-per-class 800" ;;
    tpsa) echo "" ;;
    *) echo "unknown task '$1'" >&2; exit 2 ;;
  esac
}
corpus_of() {
  case "$1" in
    ecoli-cds) echo ecoli ;;
    fly-coding|fly-promoter) echo fly ;;
    pfam|superkingdom) echo protein ;;
    tpsa) echo chem ;;
  esac
}
corpus_files() {
  case "$1" in
    ecoli) echo /usr/share/doc/bowtie/examples/genomes/NC_008253.fna.gz ;;
    fly) echo /usr/share/doc/augustus/tutorial/data/chr2R.fa ;;
    protein) echo /usr/share/doc/mmseqs2/example-data/DB.fasta.gz ;;
    chem) echo "$out/corpus/hmdb.smi" ;;
  esac
}
tokenizer_of() { case "$1" in protein) echo protein ;; chem) echo smiles ;; *) echo char ;; esac; }
# Tokens per example in fine-tuning (specials included): the DNA windows are 200 and 300 bp;
# longer proteins and molecules lose their end.
max_len_of() { case "$1" in fly-promoter) echo 320 ;; tpsa) echo 128 ;; *) echo 256 ;; esac; }
# Bidirectional attention models learn from the masked objective; Mamba presets are causal.
objective_of() { case "$1" in mamba*) echo clm ;; *) echo mlm ;; esac; }

# The test-split value of KEY from the "test" object of a metrics JSON file.
test_metric() {
  tr -d ' \n' < "$1" | sed -n 's/.*"test":{\([^}]*\)}.*/\1/p' | tr ',' '\n' |
    sed -n "s/^\"$2\":\(.*\)/\1/p" | xargs printf '%.3f'
}

run() { echo "+ $*" >&2; "$@"; }

for task in "${tasks[@]}"; do
  tdir="$out/tasks/$task"
  if [ ! -f "$tdir/task.json" ]; then
    # shellcheck disable=SC2046
    run "$strand" tasks build "$task" --out "$tdir" $(task_options "$task") -q
  fi
  if [ ! -f "$out/kmer/$task.json" ]; then
    mkdir -p "$out/kmer"
    run "$kmer" --task "$tdir" > "$out/kmer/$task.json.tmp"
    mv "$out/kmer/$task.json.tmp" "$out/kmer/$task.json"
  fi
done

if [[ " ${tasks[*]} " == *" tpsa "* ]] && [ ! -f "$out/corpus/hmdb.smi" ]; then
  mkdir -p "$out/corpus"
  run "$strand" molecules convert -i /usr/share/openms/CHEMISTRY/HMDB2StructMapping.tsv --no-header \
    --smiles-column 3 --name-column 1 -o "$out/corpus/hmdb-named.smi" -q
  awk '{ print $1 }' "$out/corpus/hmdb-named.smi" > "$out/corpus/hmdb.smi.tmp"
  mv "$out/corpus/hmdb.smi.tmp" "$out/corpus/hmdb.smi"
fi

echo "| task | metric | backbone | k-mer LR | scratch | pretrained + fine-tuned | linear probe |"
echo "|---|---|---|---:|---:|---:|---:|"
for task in "${tasks[@]}"; do
  tdir="$out/tasks/$task"
  corpus="$(corpus_of "$task")"
  metric="$(sed -n 's/^  "metric": "\(.*\)",$/\1/p' "$tdir/task.json")"
  for bb in "${backbones[@]}"; do
    model="$out/pretrained/$corpus-$bb"
    if [ ! -f "$model/model.safetensors" ]; then
      # shellcheck disable=SC2046
      run "$strand" pretrain --data $(corpus_files "$corpus") --tokenizer "$(tokenizer_of "$corpus")" \
        --arch "$bb" --objective "$(objective_of "$bb")" --steps "$pretrain_steps" --batch 16 \
        --seq-len 256 --lr 2e-3 --val-every 100 --val-windows 32 --checkpoint-every 100 \
        --threads "$threads" --resume --out "$model" -q
    fi
    common=(--task "$tdir" --max-steps "$finetune_steps" --batch 32 --max-len "$(max_len_of "$task")" --eval-every 25
            --patience 0 --threads "$threads" -q)
    # DNA windows: either strand is the same example.
    if [ "$(tokenizer_of "$corpus")" = char ]; then common+=(--rc-augment); fi
    ft="$out/finetune/$task-$bb"
    if [ ! -f "$ft/pretrained/metrics.json" ]; then
      rm -rf "$ft/pretrained"
      run "$strand" finetune -m "$model" --lr 5e-4 "${common[@]}" --out "$ft/pretrained"
    fi
    if [ ! -f "$ft/scratch/metrics.json" ]; then
      rm -rf "$ft/scratch"
      run "$strand" finetune --arch "$model/config.json" --tokenizer "$(tokenizer_of "$corpus")" \
        --lr 1e-3 "${common[@]}" --out "$ft/scratch"
    fi
    if [ ! -f "$ft/probe/metrics.json" ]; then
      rm -rf "$ft/probe"
      run "$strand" finetune -m "$model" --mode probe --task "$tdir" --max-len "$(max_len_of "$task")" --epochs 50 \
        --patience 5 --threads "$threads" -q --out "$ft/probe"
    fi
    printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$task" "$metric" "$bb" \
      "$(test_metric "$out/kmer/$task.json" "$metric")" \
      "$(test_metric "$ft/scratch/metrics.json" "$metric")" \
      "$(test_metric "$ft/pretrained/metrics.json" "$metric")" \
      "$(test_metric "$ft/probe/metrics.json" "$metric")"
  done
done
