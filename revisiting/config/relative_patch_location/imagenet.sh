#!/bin/sh
# Relative patch location, ResNet50 v1 x8 (release: config/relative_patch_location/imagenet.sh).
# Usage: revisiting/config/relative_patch_location/imagenet.sh --workdir DIR --dataset_dir RECORDS [--gpu 0,1,...] [--run_eval] [any train_and_eval.py flag]
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
exec "${PYTHON:-python}" "$ROOT/revisiting/train_and_eval.py" --config "$ROOT/exp_configs/revisiting.json:relative_patch_location" "$@"
