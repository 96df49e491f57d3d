# Shared by the set-up scripts: install the Debian packages the tests drive.
# Sourced, not run. Only as root on a Debian/Ubuntu machine; elsewhere it says
# what is missing and the tests that need it skip with that reason.
# Waits for another apt/dpkg process to finish instead of failing at once.

# Each entry: "command-or-path-to-check:package".
RESORB_APT_NEEDS=(
  "chromium:chromium"                    # browser tests (playwright drives Debian's chromium)
  "pdftoppm:poppler-utils"               # report PDF -> PNG checks
  "/usr/lib/postgresql/*/bin/initdb:postgresql"   # registry tests on a real server
  "pg_dump:postgresql-client"            # registry backup/restore on PostgreSQL
  "Rscript:r-base-core"                  # statistics peer tests against R
  "/usr/lib/R/site-library/rms/DESCRIPTION:r-cran-rms"
  "/usr/lib/R/site-library/survival/DESCRIPTION:r-cran-survival"
  "dciodvfy:dicom3tools"                 # DICOM object validator
  "dsrdump:dcmtk"                        # DICOM SR content tree checker
  "Orthanc:orthanc"                      # a real PACS for the DICOMweb tests
  "/usr/share/orthanc/plugins/libOrthancDicomWeb.so:orthanc-dicomweb"
)

_resorb_have() {
  case "$1" in
    /*) compgen -G "$1" >/dev/null ;;
    *) command -v "$1" >/dev/null ;;
  esac
}

resorb_apt_install() {
  local need=() entry
  for entry in "${RESORB_APT_NEEDS[@]}"; do
    _resorb_have "${entry%%:*}" || need+=("${entry##*:}")
  done
  [ ${#need[@]} -gt 0 ] || return 0
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "not installing Debian packages (needs root and apt-get); missing: ${need[*]}" >&2
    echo "the tests that need them will be skipped with that reason" >&2
    return 0
  fi
  echo "installing Debian packages (a few minutes on a fresh machine): ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  # DPkg::Lock::Timeout waits for another apt or dpkg process instead of failing.
  apt-get -o DPkg::Lock::Timeout=900 update -qq >&2
  apt-get -o DPkg::Lock::Timeout=900 install -y -qq "${need[@]}" >/dev/null
}
