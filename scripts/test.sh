#!/usr/bin/env bash
# Run the whole test suite (slow, browser, R, DICOM-validator, PACS and
# PostgreSQL tests included).
#
# Creates .venv from the hashed lock file (requirements-lock.txt) and installs
# resorb into it; as root it also installs the Debian packages the tests drive
# (scripts/_apt.sh), starts a throwaway PostgreSQL and Orthanc on loopback ports
# for the registry and PACS tests, and stops them again when the tests end.
# Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_venv.sh
source scripts/_apt.sh
resorb_apt_install

started=()
stop_services() {
  local svc
  for svc in "${started[@]}"; do
    bash ".ci/$svc.sh" stop >/dev/null 2>&1 || echo "could not stop $svc" >&2
  done
}
trap stop_services EXIT

if [ -z "${RESORB_TEST_POSTGRES_URL:-}" ] && [ -f .ci/postgres.sh ] \
   && compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
  echo "starting a throwaway PostgreSQL on loopback" >&2
  RESORB_TEST_POSTGRES_URL=$(bash .ci/postgres.sh | tail -n 1)
  export RESORB_TEST_POSTGRES_URL
  started+=(postgres)
fi

if [ -z "${RESORB_TEST_ORTHANC_URL:-}" ] && [ -f .ci/orthanc.sh ] && command -v Orthanc >/dev/null; then
  echo "starting a throwaway Orthanc (DICOMweb) on loopback" >&2
  RESORB_TEST_ORTHANC_URL=$(bash .ci/orthanc.sh | tail -n 1)
  export RESORB_TEST_ORTHANC_URL
  started+=(orthanc)
fi

python -m pytest -m "" --timeout=900 "$@"
