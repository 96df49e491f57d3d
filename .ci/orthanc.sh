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
# authentication with one test user (resorb / resorb-test). Run as root, Orthanc
# runs as Debian's unprivileged orthanc user (which owns the folder), as the
# caller otherwise. A port already taken by another program, or a folder that
# belongs to someone else, is refused with one line naming it. It waits until
# the DICOMweb root answers, then prints
#   http://resorb:resorb-test@127.0.0.1:PORT/dicom-web
# as the only line on stdout (progress goes to stderr). Running it again while
# that Orthanc is up reuses it; a folder left by an Orthanc that is gone is wiped
# first. Stop it (and delete its storage) with:
#   .ci/orthanc.sh stop
# which always succeeds: no Orthanc running is nothing to stop, and one that does
# not end within 5 s of SIGTERM is killed.

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

# Answers 0 when something accepts connections on 127.0.0.1:PORT.
port_taken() {
  (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null
}

# The pid in our pid file when that process is alive and is an Orthanc.
running_pid() {
  local pid
  [ -f "$DIR/orthanc.pid" ] || return 1
  pid="$(cat "$DIR/orthanc.pid" 2>/dev/null || true)"
  case "$pid" in ''|*[!0-9]*) return 1 ;; esac
  kill -0 "$pid" 2>/dev/null || return 1
  # A zombie has ended (a container's init may never collect it).
  case "$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1)" in Z) return 1 ;; esac
  # A recycled pid is not ours (nohup and setpriv execute Orthanc in the same process).
  case "$(cat "/proc/$pid/comm" 2>/dev/null || echo Orthanc)" in
    Orthanc|nohup|setpriv) echo "$pid" ;;
    *) return 1 ;;
  esac
}

if [ "${1:-}" = stop ]; then
  if pid="$(running_pid)"; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      log "Orthanc ($pid) did not stop within 5 s; killing it"
      kill -9 "$pid" 2>/dev/null || true
      for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
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

if running_pid >/dev/null && ready; then
  log "reusing the Orthanc on 127.0.0.1:$PORT"
  echo "$URL"
  exit 0
fi
if running_pid >/dev/null; then
  log "the Orthanc on 127.0.0.1:$PORT does not answer; restarting it"
  bash "$0" stop
fi
if port_taken; then
  log "port $PORT on 127.0.0.1 is in use by another program; free it or choose another port with RESORB_ORTHANC_PORT"
  exit 1
fi

# A folder in /tmp has a name anyone can guess: use it only when it is ours.
if [ -L "$DIR" ] || { [ -e "$DIR" ] && [ "$(stat -c %u "$DIR")" != "$(id -u)" ]; }; then
  log "$DIR exists and does not belong to this user; remove it or choose another folder with RESORB_ORTHANC_DIR"
  exit 1
fi
rm -rf "$DIR"  # what an Orthanc that is gone left behind
mkdir -m 700 -p "$DIR/storage"

# As root, Orthanc runs as Debian's unprivileged orthanc user, which owns the folder
# (the folder stays ours: the checks above and `stop` need no privileges of Orthanc's).
RUN_AS=()
if [ "$(id -u)" = 0 ] && id orthanc >/dev/null 2>&1 && command -v setpriv >/dev/null; then
  chown -R orthanc: "$DIR/storage"
  chmod 755 "$DIR"
  RUN_AS=(setpriv --reuid=orthanc --regid=orthanc --init-groups --)
fi
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
# setpriv executes Orthanc in its own process, so the pid is Orthanc's.
nohup "${RUN_AS[@]}" "$BIN" --logdir="$DIR/storage" "$DIR/orthanc.json" >"$DIR/stdout.log" 2>&1 &
echo $! > "$DIR/orthanc.pid"

for _ in $(seq 1 150); do
  if ! running_pid >/dev/null; then
    log "Orthanc exited; its log follows"
    tail -n 20 "$DIR"/*.log "$DIR"/storage/*.log >&2 2>/dev/null || true
    exit 1
  fi
  if ready; then
    echo "$URL"
    exit 0
  fi
  sleep 0.2
done
log "Orthanc did not answer within 30 s; its log follows"
tail -n 20 "$DIR"/*.log "$DIR"/storage/*.log >&2 2>/dev/null || true
bash "$0" stop || true
exit 1
