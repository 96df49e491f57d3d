#!/usr/bin/env bash
# Start a throwaway Orthanc PACS with its DICOMweb plugin for the PACS tests and
# print its DICOMweb root URL.
#
#   url=$(.ci/orthanc.sh)                  # or: source .ci/orthanc.sh
#   export RESORB_TEST_ORTHANC_URL="$url"
#
# Installs Debian's orthanc and orthanc-dicomweb when they are missing (needs
# root), writes its own configuration into a temporary folder (storage and
# index there too), and starts Orthanc with: HTTP on 127.0.0.1 port
# $RESORB_ORTHANC_PORT (default 58042; Orthanc 1.10 cannot bind one address,
# so remote access is refused instead), the DICOM (DIMSE) server off, the
# DICOMweb plugin loaded from Debian's plugin folder, and HTTP basic
# authentication with one test user (resorb / resorb-test). It waits until the
# DICOMweb root answers, then prints
#   http://resorb:resorb-test@127.0.0.1:PORT/dicom-web
# as the only line on stdout (progress goes to stderr). Running it again while
# that Orthanc is up reuses it. Stop it (and delete its storage) with:
#   .ci/orthanc.sh stop

# Sourced: run as a child (so that set -e and exit cannot touch the caller) and export the URL.
if [ "${BASH_SOURCE[0]}" != "$0" ]; then
  if RESORB_TEST_ORTHANC_URL="$(bash "${BASH_SOURCE[0]}" "$@")"; then
    export RESORB_TEST_ORTHANC_URL
    echo "$RESORB_TEST_ORTHANC_URL"
    return 0
  fi
  return 1
fi

set -euo pipefail

PORT="${RESORB_ORTHANC_PORT:-58042}"
DIR="${RESORB_ORTHANC_DIR:-/tmp/resorb-orthanc-${PORT}}"
USER_NAME=resorb
USER_PASSWORD=resorb-test
URL="http://$USER_NAME:$USER_PASSWORD@127.0.0.1:$PORT/dicom-web"

log() { echo "orthanc.sh: $*" >&2; }

find_plugin() {
  local f
  for f in /usr/share/orthanc/plugins/libOrthancDicomWeb.so /usr/lib/orthanc/libOrthancDicomWeb.so \
           /usr/share/orthanc/plugins/libOrthancDicomWeb.so.*; do
    if [ -f "$f" ]; then echo "$f"; return 0; fi
  done
  return 1
}

# Answers 0 when the DICOMweb root of our Orthanc answers a QIDO query.
ready() {
  local probe="http://127.0.0.1:$PORT/dicom-web/studies?limit=1"
  if command -v curl >/dev/null; then
    curl -fsS -o /dev/null -u "$USER_NAME:$USER_PASSWORD" --max-time 2 "$probe" 2>/dev/null
  else
    python3 - "$probe" "$USER_NAME" "$USER_PASSWORD" <<'PY' 2>/dev/null
import base64, sys, urllib.request
req = urllib.request.Request(sys.argv[1])
token = base64.b64encode(f"{sys.argv[2]}:{sys.argv[3]}".encode()).decode()
req.add_header("Authorization", f"Basic {token}")
urllib.request.urlopen(req, timeout=2).read()
PY
  fi
}

if [ "${1:-}" = stop ]; then
  if [ -f "$DIR/orthanc.pid" ]; then
    pid="$(cat "$DIR/orthanc.pid")"
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid"
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
  fi
  rm -rf "$DIR"
  exit 0
fi

if ! command -v Orthanc >/dev/null || ! find_plugin >/dev/null; then
  if [ "$(id -u)" != 0 ]; then
    log "Orthanc or its DICOMweb plugin is not installed and this is not root; install Debian's orthanc and orthanc-dicomweb first"
    exit 1
  fi
  log "installing Debian's orthanc and orthanc-dicomweb"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends orthanc orthanc-dicomweb >&2
fi
PLUGIN="$(find_plugin)"
BIN="$(command -v Orthanc)"

if [ -f "$DIR/orthanc.pid" ] && kill -0 "$(cat "$DIR/orthanc.pid")" 2>/dev/null && ready; then
  log "reusing the Orthanc on 127.0.0.1:$PORT"
  echo "$URL"
  exit 0
fi

mkdir -p "$DIR/storage"
chmod 700 "$DIR"
cat > "$DIR/orthanc.json" <<JSON
{
  "Name": "resorb-test",
  "StorageDirectory": "$DIR/storage",
  "IndexDirectory": "$DIR/storage",
  "Plugins": ["$PLUGIN"],
  "HttpServerEnabled": true,
  "HttpPort": $PORT,
  "RemoteAccessAllowed": false,
  "AuthenticationEnabled": true,
  "RegisteredUsers": {"$USER_NAME": "$USER_PASSWORD"},
  "OrthancExplorerEnabled": false,
  "WebDavEnabled": false,
  "DicomServerEnabled": false,
  "ExecuteLuaEnabled": false,
  "HttpDescribeErrors": true,
  "StableAge": 1,
  "SaveJobs": false,
  "MetricsEnabled": false,
  "DicomWeb": {
    "Enable": true,
    "Root": "/dicom-web/",
    "EnableWado": false,
    "Host": "127.0.0.1:$PORT",
    "Ssl": false,
    "StudiesMetadata": "Full",
    "SeriesMetadata": "Full"
  }
}
JSON

log "starting Orthanc ($("$BIN" --version | head -n 1)) on 127.0.0.1:$PORT with $PLUGIN"
nohup "$BIN" --logdir="$DIR" "$DIR/orthanc.json" >"$DIR/stdout.log" 2>&1 &
echo $! > "$DIR/orthanc.pid"

for _ in $(seq 1 150); do
  if ready; then
    echo "$URL"
    exit 0
  fi
  if ! kill -0 "$(cat "$DIR/orthanc.pid")" 2>/dev/null; then
    log "Orthanc exited; its log follows"
    tail -n 20 "$DIR"/*.log >&2 || true
    exit 1
  fi
  sleep 0.2
done
log "Orthanc did not answer within 30 s; its log follows"
tail -n 20 "$DIR"/*.log >&2 || true
exit 1
