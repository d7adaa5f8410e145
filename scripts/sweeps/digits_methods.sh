#!/usr/bin/env bash
# The README's method x geometry table on the bundled digits: every digits preset (one per
# method, default short schedule, 20 epochs) with the cosine and the geodesic geometry, one Hydra
# multirun per method, the k-NN of a randomly initialised network (no training step) for scale,
# then one table of k-NN top-1 from every run's summary.json.
#   bash scripts/sweeps/digits_methods.sh [out_dir] [method ...]     (CPU: ~2-5 min per run)
#   SEEDS="5 6 7" bash scripts/sweeps/digits_methods.sh ...          (several seeds: mean, range)
#   GEOMETRIES=cosine bash scripts/sweeps/digits_methods.sh ...      (the Euclidean objectives)
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-multirun/digits-methods}
shift || true
methods=("$@")
if [ ${#methods[@]} -eq 0 ]; then
  for preset in scripts/pretrain/digits/*.yaml; do methods+=("$(basename "$preset" .yaml)"); done
fi
seeds=$(echo "${SEEDS:-5}" | tr ' ' ',')
for method in "${methods[@]}"; do
  python main_pretrain.py --config-path scripts/pretrain/digits --config-name "$method.yaml" \
    -m "geometry=${GEOMETRIES:-cosine,geodesic}" "seed=$seeds" trainer.enable_progress_bar=false \
    "hydra.sweep.dir=$out/$method" 'hydra.sweep.subdir=${geometry.name}/seed${seed}'
done
if [ ! -d "$out/random_init" ]; then
  python main_pretrain.py -m trainer.limit_train_batches=0 "seed=$seeds" \
    trainer.enable_progress_bar=false "hydra.sweep.dir=$out/random_init" \
    'hydra.sweep.subdir=${geometry.name}/seed${seed}'
fi
python - "$out" <<'PY'
import json, sys
from pathlib import Path


def cell(runs: Path) -> str:
    top1 = [json.loads(p.read_text())["knn_top1"] for p in sorted(runs.glob("seed*/summary.json"))]
    if not top1:
        return "-"
    mean = sum(top1) / len(top1)
    return f"{mean:.1f}" if len(top1) == 1 else f"{mean:.1f} ({min(top1):.1f}-{max(top1):.1f})"


print("| method | cosine | geodesic |\n|---|---|---|")
for method in sorted(path for path in Path(sys.argv[1]).iterdir() if path.is_dir()):
    cells = [cell(method / geometry) for geometry in ("cosine", "geodesic")]
    print(f"| {method.name} | {' | '.join(cells)} |")
PY
