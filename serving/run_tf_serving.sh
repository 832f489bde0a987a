#!/usr/bin/env bash
# Launch the official TF Serving container on the models of serving/models.config.
#   bash serving/run_tf_serving.sh            # from the repository root
# gRPC on 8500, REST (and Prometheus metrics) on 8501; savedmodels/ and serving/ mounted
# read-only; batching and monitoring on; the config re-read every 60 s and each base path
# polled every 5 s for new versions. Override with TF_SERVING_IMAGE, GRPC_PORT, REST_PORT.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
image="${TF_SERVING_IMAGE:-tensorflow/serving:2.20.0}"
exec docker run --rm --name keras-t2i-serving \
  -p "${GRPC_PORT:-8500}:8500" -p "${REST_PORT:-8501}:8501" \
  -v "$root/savedmodels:/models/savedmodels:ro" \
  -v "$root/serving:/models/serving:ro" \
  "$image" \
  --model_config_file=/models/serving/models.config \
  --model_config_file_poll_wait_seconds=60 \
  --file_system_poll_wait_seconds=5 \
  --enable_batching=true \
  --batching_parameters_file=/models/serving/batching_parameters.txt \
  --monitoring_config_file=/models/serving/monitoring.config
