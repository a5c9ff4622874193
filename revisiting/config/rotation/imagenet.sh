#!/bin/sh
# Rotation pretext task, RevNet50 x16 (release: config/rotation/imagenet.sh).
# Usage: revisiting/config/rotation/imagenet.sh --workdir DIR --dataset_dir RECORDS [--gpu 0,1,...] [--run_eval] [any train_and_eval.py flag]
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
exec "${PYTHON:-python}" "$ROOT/revisiting/train_and_eval.py" --config "$ROOT/exp_configs/revisiting.json:rotation" "$@"
