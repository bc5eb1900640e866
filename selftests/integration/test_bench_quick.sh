#!/usr/bin/env bash
# scripts/bench.sh --quick end to end: every scenario runs briefly in its own
# lab, and the run leaves a Markdown table, a JSON file with every figure and
# a PNG chart. No figure is judged (speed belongs to the benchmark, not to a
# test); what is checked is that each scenario produced its measurement.
set -u
cd "$(dirname "$0")/../.."
out=$(mktemp -d /tmp/mgt-benchq.XXXXXX)
log=$out/bench.log
trap 'rm -rf "$out"' EXIT

pass() { echo "PASS test_bench_quick:$1"; }
fail() { echo "FAIL test_bench_quick:$1: $2"; }

for c in nft ethtool gnuplot chrt; do
	if ! command -v $c >/dev/null; then
		echo "SKIP test_bench_quick:run: $c is not installed (scripts/install-deps.sh)"
		exit 0
	fi
done

start=$SECONDS
# a loaded shared machine takes several times the ~50-90 s of a quiet one
# (under selftests/run.sh's 900 s per test, so that this fails first and says why)
if timeout 800 scripts/bench.sh --quick --out "$out" >"$log" 2>&1; then
	pass run
else
	fail run "bench.sh --quick exited $?: $(tail -n 5 "$log" | tr '\n' ' ')"
	exit 1
fi
echo "  (took $((SECONDS - start)) s)"

for f in latest.md latest.json latest.png; do
	if [ -s "$out/$f" ]; then pass "output_$f"; else fail "output_$f" "missing or empty"; fi
done
if head -c 8 "$out/latest.png" | od -An -c | grep -q 'P   N   G'; then
	pass png_is_png
else
	fail png_is_png "not a PNG file"
fi

# every scenario measured, every figure present, machine facts recorded
python3 - "$out/latest.json" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
def check(name, ok, why):
    print(f"PASS test_bench_quick:{name}" if ok else f"FAIL test_bench_quick:{name}: {why}")
m = r["machine"]
check("machine_facts", all(m.get(k) for k in ("nproc", "kernel", "cpu_model")), m)
for sc in ("xdp_drop", "xdp_parse", "mailgate", "nftables", "none"):
    a = r["absorption"].get(sc, {})
    check(f"absorption_{sc}", a.get("absorbed_pps", 0) > 0 and a.get("frames_sent", 0) > 0, a)
g = r["absorption"].get("mailgate", {}).get("gate", {})
check("mailgate_flood_mode", g.get("flood_mode") == 1 and g.get("counters", {}).get("drop_flood", 0) + g.get("counters", {}).get("drop_cookie", 0) > 0, g)
for level, per in r["service"].items():
    for sc in ("mailgate", "nftables", "none"):
        e = per.get(sc, {})
        ok = e.get("warmup_ok", 0) > 0 and e["verified"]["attempts"] > 0 and e["new"]["attempts"] > 0 \
            and e.get("flood_offered_pps")
        check(f"service_{level}_{sc}", ok, e)
rt = r["ratios"]
check("ratios", rt.get("absorption_mailgate_vs_xdp_drop") and rt.get("absorption_mailgate_vs_nftables"), rt)
EOF

md=$out/latest.md
if grep -q 'mailgate vs bare XDP_DROP' "$md" && grep -q 'mailgate vs nftables' "$md" &&
   grep -q '^| .*(b) mailgate' "$md"; then
	pass markdown_table
else
	fail markdown_table "ratios or rows missing"
fi
# the lab is gone
if ip netns list | grep -qE "^mgt-b[gws]-"; then
	left=$(ip netns list | grep -oE "^mgt-b[gws]-[0-9]+" | while read -r ns; do
		kill -0 "${ns##*-}" 2>/dev/null || echo "$ns"; done)
	if [ -n "$left" ]; then fail cleanup "namespaces left: $left"; else pass cleanup; fi
else
	pass cleanup
fi
