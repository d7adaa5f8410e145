#!/usr/bin/env bash
# The MHE paper's power sweep on CIFAR-100 with its 9-layer CNN: baseline, then full-space and
# half-space MHE for every power s, then one table (scripts/supervised/cifar100).
#   bash scripts/sweeps/mhe_power.sh <folder holding cifar-100-python> [extra overrides]
set -euo pipefail
cd "$(dirname "$0")/../.."
data=${1:?usage: mhe_power.sh <cifar-100 root> [overrides...]}
shift
sweep=multirun/mhe-power/$(date +%Y-%m-%d_%H-%M-%S)
python main_pretrain.py -m --config-path scripts/supervised/cifar100 --config-name baseline.yaml \
  "data.train_path=$data" "hydra.sweep.dir=$sweep/baseline" "$@"
for preset in mhe half_mhe; do
  python main_pretrain.py -m --config-path scripts/supervised/cifar100 --config-name "$preset.yaml" \
    heads.mhe.power=0,1,2,a0,a1,a2 "data.train_path=$data" "hydra.sweep.dir=$sweep/$preset" "$@"
done
python scripts/collect_results.py "$sweep" --metric val/acc1
