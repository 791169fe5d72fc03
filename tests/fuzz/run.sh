#!/bin/sh
# Runs every libFuzzer target for SECONDS (default 60) each, from a build
# configured with CC=clang --enable-fuzzing.  Usage: tests/fuzz/run.sh [SECONDS]
secs=${1:-60}
top=$(cd "$(dirname "$0")/../.." && pwd)
status=0
for t in tests/fuzz/fuzz_*; do
	case $t in *.c|*.o) continue ;; esac
	[ -x "$t" ] || continue
	name=$(basename "$t")
	work=$(mktemp -d)
	[ -d "$top/tests/fuzz/corpus/$name" ] && cp -r "$top/tests/fuzz/corpus/$name/." "$work/"
	echo "== $name ($secs s)"
	"$t" -max_total_time="$secs" -max_len=65536 "$work" || status=1
	rm -rf "$work"
done
exit $status
