#!/bin/sh
# LAN discovery: two daemons with --lan and no --bootstrap find each
# other by multicast on their segment.  The segment is a veth pair between
# two network namespaces made for this test (hosts 10.231.0.1 and .2, a
# route for the multicast group), so nothing leaves the machine; a third
# daemon without --lan shares the first namespace.  Needs root and ip(8).
. "${top_srcdir:-.}/tests/integration/lib.sh"

ns1=parley-lan1-$$
ns2=parley-lan2-$$
if [ "$(id -u)" != 0 ] || ! command -v ip >/dev/null ||
	! ip netns add "$ns1" 2>/dev/null; then
	echo "1..0 # SKIP needs root and network namespaces"
	exit 0
fi
cleanup_ns() {
	for p in $PIDS; do kill -9 "$p" 2>/dev/null; done
	ip netns del "$ns1" 2>/dev/null
	ip netns del "$ns2" 2>/dev/null
	rm -rf "$T"
}
trap cleanup_ns EXIT INT TERM
ip netns add "$ns2"
ip link add plan1 netns "$ns1" type veth peer name plan2 netns "$ns2"
for i in 1 2; do
	eval ns=\$ns$i
	ip -n "$ns" link set lo up
	ip -n "$ns" addr add "10.231.0.$i/24" dev "plan$i"
	ip -n "$ns" link set "plan$i" up
	ip -n "$ns" route add 239.0.0.0/8 dev "plan$i"
done

# start_ns NS NAME ARGS...: like start, inside namespace NS.
start_ns() {
	ns=$1
	name=$2
	shift 2
	ip netns exec "$ns" "$PARLEYD" --data-dir "$T/$name" \
		--socket "$T/$name.sock" --log-file "$T/$name.log" "$@" &&
		PIDS="$PIDS $(pid_of "$name")"
}

check "daemon a starts with --lan" start_ns "$ns1" a --lan --listen 10.231.0.1:4100
check "daemon b starts with --lan" start_ns "$ns2" b --lan --listen 10.231.0.2:4100
check "daemon c starts without --lan" start_ns "$ns1" c --listen 127.0.0.1:4100
contacts() { field "$(rpc "$1" dht.status)" contacts; }
# b's announce reaches a at once; wait for the join (bounded, 10 s).
i=0
while [ "$(contacts a)" = 0 ] || [ "$(contacts b)" = 0 ]; do
	i=$((i + 1))
	[ $i -gt 100 ] && break
	sleep 0.1
done
check "a found b on the LAN" test "$(contacts a)" -ge 1
check "b found a on the LAN" test "$(contacts b)" -ge 1
check "c, without --lan, found nobody" test "$(contacts c)" = 0
k=$(field "$(rpc a dht.put '{"value":"over the lan"}')" key)
check "a record put on a is read on b" \
	test "$(field "$(rpc b dht.get "{\"key\":\"$k\"}")" value)" = "over the lan"
for n in a b c; do stop "$n"; done
done_testing
