#!/usr/bin/env bash
# Geometric Contrastive Learning's comparison: SimCLR and MoCo v2+ on CIFAR-10, cosine vs geodesic
# loss, solo-learn's recipes (scripts/pretrain/cifar), then one table of the four runs.
#   bash scripts/sweeps/gcl_comparison.sh <folder holding cifar-10-batches-py> [extra overrides]
set -euo pipefail
cd "$(dirname "$0")/../.."
data=${1:?usage: gcl_comparison.sh <cifar root> [overrides...]}
shift
sweep=multirun/gcl-comparison/$(date +%Y-%m-%d_%H-%M-%S)
for method in simclr mocov2plus; do
  python main_pretrain.py -m --config-path scripts/pretrain/cifar --config-name "$method.yaml" \
    method_kwargs.geometric_loss=False,True "data.train_path=$data" \
    "hydra.sweep.dir=$sweep/$method" "$@"
done
python scripts/collect_results.py "$sweep"
