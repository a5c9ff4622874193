#!/bin/sh
# Exemplar, ResNet50 v1 x12 (release: config/exemplar/imagenet.sh).
# Usage: revisiting/config/exemplar/imagenet.sh --workdir DIR --dataset_dir RECORDS [--gpu 0,1,...] [--run_eval] [any train_and_eval.py flag]
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
exec "${PYTHON:-python}" "$ROOT/revisiting/train_and_eval.py" --config "$ROOT/exp_configs/revisiting.json:exemplar" "$@"
