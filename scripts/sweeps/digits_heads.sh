#!/usr/bin/env bash
# The README's hyperspherical-objectives table on the bundled digits: SimCLR's digits preset with
# each objective head of issue 16 and each geometry, one Hydra multirun per head, then one table
# of k-NN top-1 and the sphere diagnostics of every run (scripts/collect_results.py).
#   bash scripts/sweeps/digits_heads.sh [out_dir] [objective ...]   (CPU: ~1.5 min per run)
#   SEEDS="5 6 7" bash scripts/sweeps/digits_heads.sh ...            (several seeds)
#   GEOMETRIES=cosine,tvmf bash scripts/sweeps/digits_heads.sh ...
#   OVERRIDES="trainer.max_epochs=5" bash scripts/sweeps/digits_heads.sh ...  (to every run)
# Objectives: nt_xent (SimCLR's own), dcl, dclw and supcon replace NT-Xent
# (method.objective_weight=0) at its temperature 0.2; koleo and wasserstein_uniformity are added
# to it with their default weights.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-multirun/digits-heads}
shift || true
objectives=("$@")
if [ ${#objectives[@]} -eq 0 ]; then
  objectives=(nt_xent dcl dclw supcon koleo wasserstein_uniformity)
fi
seeds=$(echo "${SEEDS:-5}" | tr ' ' ',')
read -r -a overrides <<< "${OVERRIDES:-}"
for objective in "${objectives[@]}"; do
  case $objective in
    nt_xent) heads=() ;;
    dcl | dclw | supcon)
      heads=("heads=[$objective]" method.objective_weight=0 "heads.$objective.temperature=0.2") ;;
    *) heads=("heads=[$objective]") ;;
  esac
  python main_pretrain.py --config-path scripts/pretrain/digits --config-name simclr.yaml \
    -m "geometry=${GEOMETRIES:-cosine,geodesic,tvmf}" "seed=$seeds" "${heads[@]}" "${overrides[@]}" \
    trainer.enable_progress_bar=false "hydra.sweep.dir=$out/$objective" \
    'hydra.sweep.subdir=${geometry.name}/seed${seed}'
done
python scripts/collect_results.py "$out" --metric knn_top1 \
  --columns knn_top1,val/alignment,val/uniformity,val/wasserstein_uniformity,val/effective_rank,val/rankme
