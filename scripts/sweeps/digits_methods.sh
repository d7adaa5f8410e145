#!/usr/bin/env bash
# The README's method x geometry table on the bundled digits: every digits preset (one per
# method, default short schedule, 20 epochs) with the cosine and the geodesic geometry, one Hydra
# multirun per method, then one table of k-NN top-1 from every run's summary.json.
#   bash scripts/sweeps/digits_methods.sh [out_dir] [method ...]     (CPU: ~2 min per run)
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-multirun/digits-methods}
shift || true
methods=("$@")
if [ ${#methods[@]} -eq 0 ]; then
  for preset in scripts/pretrain/digits/*.yaml; do methods+=("$(basename "$preset" .yaml)"); done
fi
for method in "${methods[@]}"; do
  python main_pretrain.py --config-path scripts/pretrain/digits --config-name "$method.yaml" \
    -m geometry=cosine,geodesic trainer.enable_progress_bar=false \
    "hydra.sweep.dir=$out/$method" 'hydra.sweep.subdir=${geometry.name}'
done
python - "$out" <<'PY'
import json, sys
from pathlib import Path
print("| method | cosine | geodesic |\n|---|---|---|")
for method in sorted(path for path in Path(sys.argv[1]).iterdir() if path.is_dir()):
    cells = []
    for geometry in ("cosine", "geodesic"):
        summary = json.loads((method / geometry / "summary.json").read_text())
        cells.append(f"{summary['knn_top1']:.1f}")
    print(f"| {method.name} | {' | '.join(cells)} |")
PY
