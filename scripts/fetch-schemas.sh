#!/usr/bin/env bash
# `make schemas`: fetch the upstream schemas (Chart.yaml, values.yaml, CRDs) of every chart version the stack files
# pin into .cache/schemas with `helm show`. The work is spk/schema_fetch.py, run from this checkout; arguments
# pass through (--force, --helm PATH, --project-root DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-.venv/bin/python}
if [ ! -x "$python" ]; then
  echo "fetch-schemas: $python not found; run \`make setup\` first (or set PYTHON)" >&2
  exit 2
fi
exec "$python" -m spk.schema_fetch "$@"
