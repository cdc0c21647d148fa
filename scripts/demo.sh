#!/bin/sh
# demo.sh - build doctor and run its main job on the embedded default: a
# doctord with its own socket and SQLite data dir and the shipped Lua
# plugins; a failing Python program in a virtualenv run under `doctor run`
# is diagnosed (cv2 comes from opencv-python), the install is proposed, the
# script confirms it as a user would (nothing runs before), the program then
# works, and `doctor undo` removes the install again. pip reads a local
# wheel folder this script writes: no network. A failing shell command, a
# live watcher, and the incidents afterwards. Leaves no process running.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
build=$top/build/demo
mkdir -p "$build"
echo "== building doctor"
if [ ! -f "$build/Makefile" ]; then
	(cd "$top" && autoreconf -fi >/dev/null 2>&1)
	(cd "$build" && "$top/configure" -q) >/dev/null
fi
make -C "$build" -s -j2 >/dev/null

tmp=$(mktemp -d /tmp/doctor-demo.XXXXXX)
export DOCTOR_SOCKET="$tmp/run/doctord.sock"
export DOCTOR_DATA_DIR="$tmp/data"
export DOCTOR_PLUGIN_PATH="$top/plugins"
# pip in the demo installs only from a local folder of wheels
export PIP_NO_INDEX=1 PIP_FIND_LINKS="$tmp/wheels" PIP_DISABLE_PIP_VERSION_CHECK=1
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
print("cv2", cv2.__version__, "ready: model loaded")
PY
python3 "$top/scripts/demo_wheel.py" "$tmp/wheels" opencv-python 4.99.0 cv2 >/dev/null
python=python3
if python3 -m venv "$tmp/venv" >/dev/null 2>&1; then
	python="$tmp/venv/bin/python"
	echo "== a virtualenv in $tmp/venv; cv2 is not installed there"
fi
echo "== doctor run -- $python train.py"
"$doctor" run -- "$python" train.py || echo "(exit status $? kept)"

remedy=$("$doctor" incidents --json | python3 -c '
import json, subprocess, sys
for i in json.load(sys.stdin):
    if i["message"] == "No module named '"'"'cv2'"'"'":
        d = json.loads(subprocess.run([sys.argv[1], "show", "--json", str(i["id"])],
                                      capture_output=True, text=True).stdout)
        for r in d.get("remedies", []):
            if "install" in r["argv"] and r["argv"][0] == sys.argv[2]:
                print(r["id"]); break
        break' "$doctor" "$python")
if [ -n "$remedy" ]; then
	echo "== nothing was installed yet: the user confirms remedy #$remedy (doctor confirm $remedy)"
	"$doctor" confirm "$remedy"
	echo "== run it again"
	"$doctor" run -- "$python" train.py || true
	echo "== doctor undo $remedy"
	"$doctor" undo "$remedy"
fi

echo "== doctor run -- sh -c 'frobnicate --all'"
"$doctor" run -- sh -c 'frobnicate --all' || echo "(exit status $? kept)"

echo "== the same error again is the same incident, counted"
"$doctor" run --quiet -- "$python" train.py >/dev/null 2>&1 || true
sleep 0.2

echo "== doctor incidents"
"$doctor" incidents
echo "== doctor show 1"
"$doctor" show 1
