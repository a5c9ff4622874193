#!/bin/sh
# Linear evaluation of a rotation or exemplar module (needs --hub_module).
# Usage: revisiting/config/evaluation/rotation_or_exemplar.sh --workdir DIR --dataset_dir RECORDS [--gpu 0,1,...] [--run_eval] [any train_and_eval.py flag]
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
exec "${PYTHON:-python}" "$ROOT/revisiting/train_and_eval.py" --config "$ROOT/exp_configs/revisiting.json:eval_rotation_or_exemplar" "$@"
