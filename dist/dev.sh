#!/bin/sh
# Developer entry point; the README's two commands call it.
#   dist/dev.sh demo    install Debian packages, build, run the demo network
#   dist/dev.sh check   install Debian packages, build, run the test suite
#   dist/dev.sh asan    the suite again in an ASan/UBSan build (build-asan/)
#   dist/dev.sh distcheck
# Safe to run again: packages already there are not reinstalled, an existing
# build directory is reused.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

PKGS="gcc make autoconf automake pkg-config clang libclang-rt-dev \
libsodium-dev libuv1-dev libminiupnpc-dev liblmdb-dev libzstd-dev \
libjansson-dev libcmocka-dev libncurses-dev libqrencode-dev iproute2 tmux"

deps() {
	missing=""
	for p in $PKGS; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
			grep -q 'install ok installed' || missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	if [ "$(id -u)" != 0 ]; then
		echo "dev.sh: missing packages:$missing (run as root to install)" >&2
		exit 1
	fi
	echo "dev.sh: installing$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
}

configure_in() { # dir, configure args...
	dir=$1
	shift
	[ -x configure ] || autoreconf -fi >/dev/null
	mkdir -p "$dir"
	if [ ! -f "$dir/Makefile" ]; then
		(cd "$dir" && ../configure -q "$@")
	fi
}

jobs=$(nproc 2>/dev/null || echo 2)
case "${1:-check}" in
demo)
	deps
	configure_in build --enable-werror
	make -s -C build -j"$jobs"
	exec sh "$top/dist/demo.sh" "$top/build"
	;;
check)
	deps
	configure_in build --enable-werror
	make -s -C build -j"$jobs"
	make -s -C build -j"$jobs" check
	;;
asan)
	deps
	configure_in build-asan --enable-debug
	make -s -C build-asan -j"$jobs"
	# the sanitizers make daemons about 5x slower: the crash test streams
	# 2,000 messages each way here (10,000 in the plain build)
	CHAT_CRASH_N=${CHAT_CRASH_N:-2000} make -s -C build-asan -j"$jobs" check
	;;
distcheck)
	deps
	configure_in build --enable-werror
	make -s -C build -j"$jobs" distcheck
	;;
*)
	echo "usage: dist/dev.sh demo|check|asan|distcheck" >&2
	exit 64
	;;
esac
