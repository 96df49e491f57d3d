#!/usr/bin/env bash
# Run the whole test suite (slow, browser and PostgreSQL tests included).
# Creates .venv and installs resorb[all]; as root it also installs the Debian
# packages the tests drive (chromium, postgresql, poppler-utils) and starts a
# throwaway PostgreSQL on a loopback port for the registry tests.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_venv.sh

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  need=()
  command -v chromium >/dev/null || need+=(chromium)
  command -v pdftoppm >/dev/null || need+=(poppler-utils)
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
  if [ ${#need[@]} -gt 0 ]; then
    echo "installing Debian packages: ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${need[@]}" >/dev/null
  fi
fi

if [ -z "${RESORB_TEST_POSTGRES_URL:-}" ] && [ -f .ci/postgres.sh ] \
   && ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  RESORB_TEST_POSTGRES_URL=$(bash .ci/postgres.sh | tail -n 1)
  export RESORB_TEST_POSTGRES_URL
fi

exec python -m pytest -m "" --timeout=900 "$@"
