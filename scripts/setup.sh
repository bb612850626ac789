#!/usr/bin/env bash
# Set up everything the project needs on a fresh machine: the project virtualenv (.venv) with its dev extras,
# a separate tools virtualenv (.venv-tools) for checkov (its pinned dependencies clash with the project's),
# and the system tools the tests use (promtool, Java 17 for PySpark). Safe to run again: it only adds what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
CHECKOV_SPEC=${CHECKOV_SPEC:-"checkov>=3.2,<4"}

apt_install() {
  if [ "$(id -u)" != 0 ]; then
    echo "setup: missing $* — install with: sudo apt-get install -y $*" >&2
    return 1
  fi
  if [ -z "${APT_UPDATED:-}" ]; then apt-get update -qq; APT_UPDATED=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

command -v promtool >/dev/null 2>&1 || apt_install prometheus
command -v java >/dev/null 2>&1 || apt_install openjdk-17-jre-headless

if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/pip install --quiet --disable-pip-version-check -e ".[dev]"

if [ ! -x .venv-tools/bin/checkov ]; then
  "$PYTHON" -m venv .venv-tools
  .venv-tools/bin/pip install --quiet --disable-pip-version-check "$CHECKOV_SPEC"
fi
echo "setup: ready (.venv, .venv-tools, promtool $(promtool --version 2>&1 | head -1 | awk '{print $3}'))"
