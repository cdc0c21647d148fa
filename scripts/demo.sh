#!/bin/sh
# demo.sh - build doctor and run its main job on the embedded default: a
# doctord with its own socket and SQLite data dir, a failing Python program
# and a failing shell command run under `doctor run`, a live watcher, and the
# incidents afterwards. Leaves no process running.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
build=$top/build/demo
mkdir -p "$build"
if [ ! -x "$build/doctord" ] || [ ! -x "$build/doctor" ]; then
	echo "== building doctor"
	(cd "$top" && autoreconf -fi >/dev/null 2>&1)
	(cd "$build" && "$top/configure" -q && make -s -j2) >/dev/null
fi

tmp=$(mktemp -d /tmp/doctor-demo.XXXXXX)
export DOCTOR_SOCKET="$tmp/run/doctord.sock"
export DOCTOR_DATA_DIR="$tmp/data"
doctor="$build/doctor"
watch_pid=
cleanup() {
	if [ -n "$watch_pid" ]; then
		kill -INT "$watch_pid" 2>/dev/null
		wait "$watch_pid" 2>/dev/null
	fi
	if [ -f "$tmp/run/doctord.sock.lock" ]; then
		pid=$(head -n1 "$tmp/run/doctord.sock.lock" 2>/dev/null || true)
		[ -n "$pid" ] && kill "$pid" 2>/dev/null
		sleep 0.3
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

echo "== starting doctord (socket $DOCTOR_SOCKET)"
"$build/doctord"
"$doctor" status

echo "== a watcher (doctor watch, in the background) prints incidents as they happen"
"$doctor" watch &
watch_pid=$!
sleep 0.3

cd "$tmp"
cat > train.py <<'PY'
import json

def load(path):
    with open(path) as f:
        return json.load(f)

print("loading the model...")
import cv2                          # not installed
PY
echo "== doctor run -- python3 train.py"
"$doctor" run -- python3 train.py || echo "(exit status $? kept)"

echo "== doctor run -- sh -c 'frobnicate --all'"
"$doctor" run -- sh -c 'frobnicate --all' || echo "(exit status $? kept)"

echo "== the same error again is the same incident, counted"
"$doctor" run --quiet -- python3 train.py >/dev/null 2>&1 || true
sleep 0.2

echo "== doctor incidents"
"$doctor" incidents
echo "== doctor show 1"
"$doctor" show 1
