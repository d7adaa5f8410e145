#!/usr/bin/env bash
# The README's method x geometry table on the bundled digits: every digits preset (default short
# schedule, 20 epochs) with the cosine and the geodesic geometry, one Hydra multirun per method,
# then one table of k-NN top-1 from every run's summary.json.
#   bash scripts/sweeps/digits_methods.sh [out_dir]      (CPU: ~2 min per run)
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-multirun/digits-methods}
for method in simclr mocov2plus mocov3 byol supervised; do
  python main_pretrain.py --config-path scripts/pretrain/digits --config-name "$method.yaml" \
    -m geometry=cosine,geodesic trainer.enable_progress_bar=false \
    "hydra.sweep.dir=$out/$method" 'hydra.sweep.subdir=${geometry.name}'
done
python - "$out" <<'PY'
import json, sys
from pathlib import Path
print("| method | cosine | geodesic |\n|---|---|---|")
root = Path(sys.argv[1])
for method in ("simclr", "mocov2plus", "mocov3", "byol", "supervised"):
    cells = []
    for geometry in ("cosine", "geodesic"):
        summary = json.loads((root / method / geometry / "summary.json").read_text())
        cells.append(f"{summary['knn_top1']:.1f}")
    print(f"| {method} | {' | '.join(cells)} |")
PY
