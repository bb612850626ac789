#!/usr/bin/env bash
# Set up what one make target needs, and nothing more:
#
#   scripts/setup.sh plan   the project in .venv with the `spark` extra            (make plan)
#   scripts/setup.sh demo   plan + Java 17 for local Spark, Maven for the local Kafka broker   (make demo)
#   scripts/setup.sh lint   the project in .venv with the `dev` extras (ruff, ...)  (make lint)
#   scripts/setup.sh test   lint + Java 17, Maven, promtool, nginx, checkov in .venv-tools (make test, make setup)
#
# checkov lives in its own virtualenv (.venv-tools) because its pinned dependencies clash with the project's.
# Safe to run again: every step checks first and only adds what is missing, so a second run takes seconds.
# System packages come from apt-get (Debian/Ubuntu) and need root; without root the script names the exact command.
set -euo pipefail
cd "$(dirname "$0")/.."

PROFILE=${1:-test}
PYTHON=${PYTHON:-}
CHECKOV_SPEC=${CHECKOV_SPEC:-"checkov>=3.2,<4"}
PIP_FLAGS=(--quiet --disable-pip-version-check)

case "$PROFILE" in
  plan) EXTRA=spark; NEED_JAVA=; NEED_MAVEN=; NEED_TEST_TOOLS= ;;
  demo) EXTRA=spark; NEED_JAVA=1; NEED_MAVEN=1; NEED_TEST_TOOLS= ;;
  lint) EXTRA=dev; NEED_JAVA=; NEED_MAVEN=; NEED_TEST_TOOLS= ;;
  test) EXTRA=dev; NEED_JAVA=1; NEED_MAVEN=1; NEED_TEST_TOOLS=1 ;;
  -h | --help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "setup: unknown profile '$PROFILE' (expected plan, demo, lint or test)" >&2; exit 2 ;;
esac

STEPS=3
[ -n "$NEED_TEST_TOOLS" ] && STEPS=4
STEP=0
STARTED=$SECONDS

step() {  # step "what it does" "how long it takes"
  STEP=$((STEP + 1))
  STEP_STARTED=$SECONDS
  printf 'setup %d/%d: %s' "$STEP" "$STEPS" "$1"
  if [ -n "${2:-}" ]; then printf ' (%s)' "$2"; fi
  printf '\n'
}
done_step() {  # done_step "result"
  printf '  %s [%ds]\n' "$1" $((SECONDS - STEP_STARTED))
}
fail() {
  printf 'setup: %s\n' "$1" >&2
  exit 1
}

# --- 1. check the machine before doing anything ----------------------------------------------------------------
step "checking Python 3.11+, its venv module and the system tools the '$PROFILE' profile needs" "a second"

# The first of $PYTHON, python3, python3.12, python3.11 that is 3.11 or 3.12 (pyproject's requires-python).
python_version() { "$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null; }
supported() { case "$1" in 3.11 | 3.12) return 0 ;; *) return 1 ;; esac; }
FOUND=""
ASKED=$PYTHON
for candidate in ${PYTHON:+"$PYTHON"} python3 python3.12 python3.11; do
  command -v "$candidate" >/dev/null 2>&1 || continue
  version=$(python_version "$candidate") || continue
  if supported "$version"; then PYTHON=$candidate; PY_VERSION=$version; break; fi
  FOUND="${FOUND:+$FOUND, }$candidate is $version"
done
if [ -z "${PY_VERSION:-}" ]; then
  fail "Python 3.11 or 3.12 is needed (${FOUND:-no python3 on PATH}).
  Debian 12 / Ubuntu 24.04:  sudo apt-get install -y python3 python3-venv
  Ubuntu 22.04:              sudo add-apt-repository ppa:deadsnakes/ppa && sudo apt-get install -y python3.11 python3.11-venv
  then re-run, e.g.: PYTHON=python3.11 make ${PROFILE}"
fi
if [ -n "$ASKED" ] && [ "$ASKED" != "$PYTHON" ]; then
  echo "  note: PYTHON=$ASKED is not a usable Python 3.11/3.12 (${FOUND:-not found}); using $PYTHON ($PY_VERSION) instead"
fi

MISSING=()       # what is missing, for the message
PACKAGES=()      # the apt packages that provide it
# `python3 -m venv` needs both the venv module and ensurepip; Debian ships them in python3.X-venv.
if ! "$PYTHON" -c 'import venv, ensurepip' >/dev/null 2>&1; then
  MISSING+=("the venv module of $PYTHON")
  if [ "$(python_version python3 || true)" = "$PY_VERSION" ]; then PACKAGES+=(python3-venv); else PACKAGES+=("python$PY_VERSION-venv"); fi
fi
if [ -n "$NEED_JAVA" ] && ! command -v java >/dev/null 2>&1; then
  MISSING+=("Java 17 (local Spark)")
  PACKAGES+=(openjdk-17-jre-headless)
fi
if [ -n "$NEED_TEST_TOOLS" ] && ! command -v promtool >/dev/null 2>&1; then
  MISSING+=("promtool (the alert unit tests)")
  PACKAGES+=(prometheus)
fi
if [ -n "$NEED_MAVEN" ] && ! command -v mvn >/dev/null 2>&1; then
  MISSING+=("Maven (fetches the local Kafka broker's jars)")
  PACKAGES+=(maven)
fi
if [ -n "$NEED_TEST_TOOLS" ] && ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
  MISSING+=("nginx (the Spark Connect gateway test)")
  PACKAGES+=(nginx-light)
fi

if [ ${#PACKAGES[@]} -gt 0 ]; then
  missing_text=$(printf '%s; ' "${MISSING[@]}")
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    fail "missing: ${missing_text%; }.
  Install with:  sudo apt-get install -y ${PACKAGES[*]}
  then re-run: make ${PROFILE}"
  fi
  echo "  installing with apt-get: ${PACKAGES[*]} (for: ${missing_text%; }; about a minute)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >/dev/null
fi
tools="Python $PY_VERSION ($(command -v "$PYTHON"))"
[ -n "$NEED_JAVA" ] && tools="$tools, $(java -version 2>&1 | head -1 | awk -F'"' '{print "Java " $2}')"
[ -n "$NEED_TEST_TOOLS" ] && tools="$tools, promtool $(promtool --version 2>&1 | head -1 | awk '{print $3}')"
done_step "ok: $tools"

# --- 2. the project virtualenv ---------------------------------------------------------------------------------
if [ ! -x .venv/bin/python ]; then
  step "creating the project virtualenv .venv" "a few seconds"
  "$PYTHON" -m venv .venv
  done_step "created with $PYTHON"
else
  step "project virtualenv .venv" "exists"
  done_step "ok: $(.venv/bin/python --version)"
fi

# --- 3. the project and the extras this profile needs ----------------------------------------------------------
# A stamp per extra records the pyproject.toml it was installed from; `dev` includes `spark`, so it satisfies both.
STAMP_HASH=$(sha256sum pyproject.toml | cut -c1-16)
installed() { [ "$(cat ".venv/.setup-$1" 2>/dev/null)" = "$STAMP_HASH" ]; }
if installed "$EXTRA" || { [ "$EXTRA" = spark ] && installed dev; }; then
  step "the project with the '$EXTRA' extra" "installed"
  done_step "ok: up to date with pyproject.toml"
else
  case "$EXTRA" in
    spark) what="pulumi, pydantic, pyspark, moto, a Kafka client; about 1 minute the first time" ;;
    dev) what="pulumi, pyspark, moto, pytest, ruff, schema validators; about 1-2 minutes the first time" ;;
  esac
  step "installing the project into .venv with the '$EXTRA' extra" "$what"
  .venv/bin/pip install "${PIP_FLAGS[@]}" -e ".[$EXTRA]"
  # The commands must start with just this extra; a module they import that no extra declares is a packaging bug.
  if ! problem=$(.venv/bin/python -c 'import spk.cli' 2>&1); then
    fail "the project installed, but spk does not start with the '$EXTRA' extra: $(echo "$problem" | tail -1)
  (a dependency spk imports is missing from pyproject.toml's [project] dependencies)"
  fi
  echo "$STAMP_HASH" >".venv/.setup-$EXTRA"
  done_step "installed"
fi

# --- 4. test tools: checkov in its own virtualenv ---------------------------------------------------------------
if [ -n "$NEED_TEST_TOOLS" ]; then
  if [ -x .venv-tools/bin/checkov ]; then
    step "checkov in .venv-tools" "installed"
    done_step "ok"
  else
    step "installing checkov into .venv-tools (its own virtualenv)" "about 1 minute the first time"
    "$PYTHON" -m venv .venv-tools
    .venv-tools/bin/pip install "${PIP_FLAGS[@]}" "$CHECKOV_SPEC"
    done_step "installed checkov $(.venv-tools/bin/checkov --version 2>/dev/null || echo '?')"
  fi
fi

echo "setup: ready for '$PROFILE' in $((SECONDS - STARTED))s (activate with: . .venv/bin/activate)"
