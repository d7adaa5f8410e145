#!/usr/bin/env bash
# Weighted k-NN of a pretrained backbone on CIFAR (GCL/solo-learn's main_knn flags), every
# combination of k, temperature, feature type and distance in one table (knn.csv, knn.json).
#
#   scripts/knn/cifar/knn.sh outputs/simclr-cifar100/<time>          # a run dir or a .ckpt dir
#   DATASET=cifar10 scripts/knn/cifar/knn.sh path/to/dir 'knn.train_chunk_size=8192'
#
# ./datasets holds CIFAR in torchvision's layout (cifar-100-python/ or cifar-10-batches-py/).
set -euo pipefail
cd "$(dirname "$0")/../../.."

checkpoint_dir=${1:?usage: $0 <pretrained run or checkpoint dir> [hydra overrides]}
shift

python3 main_knn.py \
    --dataset "${DATASET:-cifar100}" \
    --train_data_path ./datasets \
    --val_data_path ./datasets \
    --pretrained_checkpoint_dir "$checkpoint_dir" \
    --k 1 10 20 200 \
    --temperature 0.02 0.07 0.2 \
    --feature_type backbone projector \
    --distance_function cosine euclidean \
    "$@"
