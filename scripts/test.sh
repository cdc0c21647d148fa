#!/bin/sh
# test.sh - build doctor twice (normal with -Werror, and with ASan+UBSan) and
# run the whole test suite in both, then `make distcheck`. Ends with one line
# "N passed, N failed" over everything and exits non-zero on any failure.
#
# Usage: scripts/test.sh [--no-distcheck]
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
build=${DOCTOR_TEST_BUILD:-$top/build/test}
jobs=${JOBS:-2}
distcheck=1
[ "${1:-}" = "--no-distcheck" ] && distcheck=0

passed=0
failed=0

# Count the TAP results automake gathered in a build's test-suite.log.
count() {
	log=$1/test-suite.log
	if [ ! -f "$log" ]; then
		echo "test.sh: no $log: the suite did not run" >&2
		failed=$((failed + 1))
		return
	fi
	p=$(sed -n 's/^# PASS: *//p' "$log")
	s=$(sed -n 's/^# SKIP: *//p' "$log")
	f=$(sed -n 's/^# FAIL: *//p' "$log")
	e=$(sed -n 's/^# ERROR: *//p' "$log")
	x=$(sed -n 's/^# XPASS: *//p' "$log")
	passed=$((passed + ${p:-0} + ${s:-0}))
	failed=$((failed + ${f:-0} + ${e:-0} + ${x:-0}))
	if [ "$((${f:-0} + ${e:-0} + ${x:-0}))" -gt 0 ]; then
		echo "---- failures in $1 ----"
		grep -E '^(FAIL|ERROR|XPASS)' "$log" | head -50
		grep -E '^not ok|^# ' "$1"/tests/*/*.log 2>/dev/null | grep -v '^.*# SKIP' | head -80
	fi
}

step() {  # step NAME COMMAND...: a build step counts as one check
	name=$1
	shift
	if "$@"; then
		passed=$((passed + 1))
	else
		echo "test.sh: $name failed" >&2
		failed=$((failed + 1))
		return 1
	fi
}

cd "$top" || exit 1
step autoreconf autoreconf -fi >/dev/null || { echo "0 passed, 1 failed"; exit 1; }

suite() {  # suite DIR CONFIGURE-FLAGS...
	dir=$1
	shift
	rm -rf "$dir"
	mkdir -p "$dir"
	(cd "$dir" && "$top/configure" -q "$@") || { failed=$((failed + 1)); return; }
	step "build ($dir)" make -C "$dir" -s -j"$jobs" || return
	make -C "$dir" -s -j"$jobs" check >/dev/null 2>&1
	count "$dir"
}

suite "$build/normal" --enable-werror
export DOCTOR_TEST_SLOW=4
suite "$build/sanitizers" --enable-sanitizers
unset DOCTOR_TEST_SLOW
if [ "$distcheck" = 1 ]; then
	step distcheck make -C "$build/normal" -s -j"$jobs" distcheck >"$build/distcheck.log" 2>&1 ||
		tail -40 "$build/distcheck.log"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
