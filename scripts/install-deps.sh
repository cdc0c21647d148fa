#!/bin/sh
# install-deps.sh - install what doctor needs to build and test, from Debian's
# packages. Run as root (or with sudo). Does nothing when all are present.
set -eu

PACKAGES="build-essential autoconf automake libtool pkg-config make
libuv1-dev liblua5.4-dev libcurl4-openssl-dev libjansson-dev libyaml-dev
libsqlite3-dev libcmark-dev libxml2-dev sqlite3 python3 python3-venv python3-pip python3-ipykernel
python3-ipython python3-nbclient zsh bsdutils procps socat"

missing=""
for p in $PACKAGES; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
if [ -z "$missing" ]; then
	echo "install-deps: all packages present"
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		exec sudo "$0" "$@"
	fi
	echo "install-deps: need root to install:$missing" >&2
	exit 1
fi
echo "install-deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
