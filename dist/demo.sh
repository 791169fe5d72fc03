#!/bin/sh
# The README's demo: a local network of parley daemons in a temporary
# directory, driven with the real `parley` command, then stopped.
# It grows with each capability; today the daemons serve their API but do
# not yet talk to each other (the DHT and messaging land next).
# Usage: dist/demo.sh BUILD_DIR
set -eu
build=${1:-build}
parleyd=$build/node/parleyd
parley=$build/cli/parley
dir=$(mktemp -d /tmp/parley-demo.XXXXXX)
trap 'for n in alice bob; do "$parley" -s "$dir/$n.sock" rpc node.stop >/dev/null 2>&1 || true; done; rm -rf "$dir"' EXIT

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*" | sed "s|$dir|\$DEMO|g"; "$@"; }

for n in alice bob; do
	say "starting $n's parleyd (data in \$DEMO/$n)"
	run "$parleyd" --data-dir "$dir/$n" --socket "$dir/$n.sock" \
		--log-file "$dir/$n.log"
done

say "alice asks her daemon how it is"
run "$parley" -s "$dir/alice.sock" status

say "alice's identity: the contact ID she gives to friends"
run "$parley" -s "$dir/alice.sock" id
run "$parley" -s "$dir/alice.sock" id --qr

say "bob has his own, unrelated identity"
run "$parley" -s "$dir/bob.sock" id

say "alice names herself; every change is an event in a log that survives restarts"
run "$parley" -s "$dir/alice.sock" rpc profile.set '{"name":"Alice"}'
run "$parley" -s "$dir/alice.sock" events --since 0

say "alice restarts her daemon: same identity, event numbers go on"
run "$parley" -s "$dir/alice.sock" rpc node.stop
run "$parleyd" --data-dir "$dir/alice" --socket "$dir/alice.sock" \
	--log-file "$dir/alice.log"
run "$parley" -s "$dir/alice.sock" id
run "$parley" -s "$dir/alice.sock" events --since 2

say "stopping both daemons"
for n in alice bob; do run "$parley" -s "$dir/$n.sock" rpc node.stop; done
trap 'rm -rf "$dir"' EXIT
