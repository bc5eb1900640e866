#!/usr/bin/env python3
"""Turns the raw measurements of scripts/bench.sh (one work directory) into
DIR/latest.json (every figure, the machine facts), DIR/latest.md (the
tables, with the ratios spelled out) and DIR/latest.dat (what
scripts/bench_chart.gp draws)."""
import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import time

SCENARIOS = {
    "xdp_drop": "(a) bare XDP_DROP",
    "xdp_parse": "(a2) XDP: parse headers, drop",
    "mailgate": "(b) mailgate",
    "nftables": "(c) nftables netdev ingress",
    "none": "(d) no filter (SYN cookies)",
}
SERVICE = ["mailgate", "nftables", "none"]


def load(path, default=None):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return default


def machine(quick):
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        rev = None
    with open("/proc/meminfo") as f:
        mem_kb = int(f.readline().split()[1])
    return {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "nproc": os.cpu_count(),
        "cpu_model": cpu,
        "kernel": platform.release(),
        "mem_gib": round(mem_kb / 1048576, 1),
        "loadavg_end": os.getloadavg(),
        "git_commit": rev,
        "quick": bool(quick),
    }


def datapath(work):
    path = os.path.join(work, "datapath.txt")
    if not os.path.exists(path):
        return {"available": False, "cases": []}
    text = open(path).read()
    cases = []
    # bench_gate prints one block per deny list size ("N deny entries ...")
    # and in it one line per case: NAME  NS ns  bare B  parse-only P  x parse-only R
    size = None
    for line in text.splitlines():
        h = re.match(r"^(\d+) deny entries", line)
        if h:
            size = int(h.group(1))
            continue
        m = re.match(r"^\s+(.+?)\s+([\d.]+) ns\s+bare\s+([\d.]+)\s+parse-only\s+([\d.]+)\s+"
                     r"x parse-only\s+([\d.]+)", line)
        if m:
            cases.append({"name": m.group(1), "deny_entries": size, "ns": float(m.group(2)),
                          "bare_ns": float(m.group(3)), "parse_ns": float(m.group(4)),
                          "ratio": float(m.group(5))})
    return {"available": True, "cases": cases, "output": text}


def top(work):
    path = os.path.join(work, "top.txt")
    if not os.path.exists(path):
        return []
    return [{"case": m.group(1), "ns": float(m.group(2)), "bare_ns": float(m.group(3)), "extra_ns": float(m.group(4))}
            for m in re.finditer(r"^\s+(.+?)\s+([\d.]+) ns\s+bare\s+([\d.]+)\s+extra\s+(-?[\d.]+)",
                                 open(path).read(), re.M)]


def cpus(work):
    path = os.path.join(work, "cpus.txt")
    if not os.path.exists(path):
        return []
    out = []
    for m in re.finditer(r"^\s+(\S+)\s+1 CPU\s+([\d.]+) ns/packet\s+2 CPUs\s+([\d.]+) ns/packet each \(x([\d.]+)\)",
                         open(path).read(), re.M):
        out.append({"case": m.group(1), "one_cpu_ns": float(m.group(2)), "two_cpus_ns": float(m.group(3)),
                    "ratio": float(m.group(4))})
    return out


def absorption(work):
    out = {}
    for sc in SCENARIOS:
        fl = load(os.path.join(work, f"abs-{sc}.flood.json"), {})
        rx = load(os.path.join(work, f"abs-{sc}.rx.json"), {})
        secs = fl.get("elapsed_s") or 0
        if not secs or "rx_packets" not in rx:
            out[sc] = {"error": fl.get("error", "no measurement")}
            continue
        out[sc] = {
            "frames_sent": fl["frames_sent"],
            "elapsed_s": round(secs, 3),
            "offered_pps": round(fl["frames_sent"] / secs),
            "absorbed_pps": round(rx["rx_packets"] / secs),
            "ring_dropped_pps": round(rx["rx_dropped"] / secs),
        }
        filt = load(os.path.join(work, f"abs-{sc}.filter.json"))
        if sc == "mailgate" and filt:
            out[sc]["gate"] = filt
    return out


def pct(v, q):
    if not v:
        return None
    v = sorted(v)
    return round(v[min(len(v) - 1, int(q * len(v)))], 2)


def group(r):
    if not r:
        return {"attempts": 0, "ok": 0, "success_rate": None, "p50_ms": None, "p99_ms": None}
    lat = r.get("connect_ms", [])
    return {
        "attempts": r["attempts"],
        "ok": r["ok"],
        "success_rate": round(r["ok"] / r["attempts"], 4) if r["attempts"] else None,
        "p50_ms": round(statistics.median(lat), 2) if lat else None,
        "p99_ms": pct(lat, 0.99),
    }


def rate_of(level):
    """10k -> 10000, 1M -> 1000000; None for anything else (full)."""
    m = re.fullmatch(r"([\d.]+)([kKmM]?)", level)
    return m and round(float(m.group(1)) * {"": 1, "k": 1e3, "m": 1e6}[m.group(2).lower()])


def lab(s0, s1, rx_cpu):
    """What the lab did while the clients ran, from two snapshots of bench.sh's snap."""
    if not s0 or not s1:
        return {}
    out = {"cpus": {}, "napi_threads": {}, "links": {}}
    for c, a in s1["cpus"].items():
        b = s0["cpus"].get(c, {})
        t = a["total"] - b.get("total", 0)
        out["cpus"][c] = {"busy": round((a["busy"] - b["busy"]) / t, 3) if t else None,
                          "softirq": round((a["softirq"] - b["softirq"]) / t, 3) if t else None,
                          "steal": round((a.get("steal", 0) - b.get("steal", 0)) / t, 3) if t else None,
                          "net_rx_raised": a["net_rx"] - b["net_rx"], "net_tx_raised": a["net_tx"] - b["net_tx"]}
    for dev, a in s1["threads"].items():
        b = s0["threads"].get(dev)
        t = s1["cpus"][str(a["cpu"])]["total"] - s0["cpus"][str(a["cpu"])]["total"]
        if b:  # its share of the CPU it runs on; policy 1 = SCHED_FIFO
            out["napi_threads"][dev] = {"cpu": a["cpu"], "policy": {0: "other", 1: "fifo", 2: "rr"}.get(a["policy"], a["policy"]),
                                        "share": round((a["ticks"] - b["ticks"]) / t, 3) if t else None}
    for dev, a in s1["links"].items():
        b = s0["links"].get(dev, {})
        out["links"][dev] = {k: a[k] - b.get(k, 0) for k in a}
    # srv's veth is the first link, the wire's end toward gen the second
    devs = list(out["links"])
    srv, entry = out["links"][devs[0]], out["links"][devs[1]]
    seen = srv["rx_packets"] + srv["rx_dropped"]
    out["ring_drop_share"] = round(srv["rx_dropped"] / seen, 4) if seen else 0
    seen = entry["rx_packets"] + entry["rx_dropped"]
    out["wire_drop_share"] = round(entry["rx_dropped"] / seen, 4) if seen else 0
    c0, c1 = s0.get("clients", {}), s1.get("clients", {})
    if c1:  # the clients' SYNs (first tries and retransmits) and how many went unanswered
        opens, retrans = c1["ActiveOpens"] - c0["ActiveOpens"], c1["TCPSynRetrans"] - c0["TCPSynRetrans"]
        out["client_syns"] = {"connects": opens, "syn_retransmits": retrans,
                              "syn_loss": round(retrans / (opens + retrans), 4) if opens + retrans else None}
    cpu = out["cpus"].get(str(rx_cpu), {})
    out["napi_cpu_busy"], out["napi_cpu_softirq"] = cpu.get("busy"), cpu.get("softirq")
    th = out["napi_threads"].get(devs[0])
    out["napi_thread"] = th and th["share"]
    return out


def service(work, levels, rx_cpu):
    out = {}
    for level in levels:
        out[level] = {}
        for sc in SERVICE:
            base = os.path.join(work, f"svc-{level}-{sc}")
            fl = load(base + ".flood.json", {})
            warm = load(base + ".warmup.json", {})
            entry = {
                "verified": group(load(base + ".verified.json")),
                "new": group(load(base + ".new.json")),
                "warmup_ok": warm.get("ok"),
                "flood_offered_pps": round(fl["frames_sent"] / fl["elapsed_s"]) if fl.get("elapsed_s") else None,
            }
            entry.update(lab(load(base + ".snap0.json"), load(base + ".snap1.json"), rx_cpu))
            target = rate_of(level)
            if target and entry["flood_offered_pps"] is not None:
                entry["flood_target_pps"] = target
                entry["flood_short"] = entry["flood_offered_pps"] < 0.95 * target
            t0, t1 = load(base + ".tcpext0.json", {}), load(base + ".tcpext1.json", {})
            if t0 and t1:  # srv's kernel while the clients ran
                entry["tcpext"] = {k: t1[k] - t0.get(k, 0) for k in t1 if t1[k] - t0.get(k, 0)}
            filt = load(base + ".filter.json")
            if sc == "mailgate" and filt:
                entry["gate"] = filt
            out[level][sc] = entry
    return out


def ratio(a, b):
    return round(a / b, 2) if a and b else None


def times100(v):
    return None if v is None else v * 100


def fmt_pps(v):
    if v is None:
        return "-"
    return f"{v / 1e6:.2f} M" if v >= 1e6 else f"{v / 1e3:.0f} k"


def fmt(v, unit="", nd=1):
    return "-" if v is None else f"{v:.{nd}f}{unit}"


def highest_rungs(r, levels, holds):
    """One line per filter: the highest rung up to which holds(entry) is
    true at that rung and every rung below it."""
    out = []
    for sc in SERVICE:
        best = "none"
        for level in levels:
            e = r["service"][level][sc]
            if not holds(e):
                break
            best = level + (f" (offered {fmt_pps(e['flood_offered_pps'])}pps)" if e.get("flood_short") else "")
        out.append(f"- {SCENARIOS[sc]}: **{best}**")
    return out


def markdown(r):
    m, s = r["machine"], r["setup"]
    lines = [
        "# mailgate benchmark",
        "",
        f"{m['date']}, {m['nproc']} CPUs ({m['cpu_model']}), Linux {m['kernel']}, "
        f"commit {m['git_commit']}{', **quick run** (seconds per scenario, not for comparison)' if m['quick'] else ''}.",
        f"Load average at the end: {', '.join(f'{x:.2f}' for x in m['loadavg_end'])} "
        "(a shared machine: the figures move from run to run).",
        "",
        f"Flood: `mailgate synflood` (one thread on CPU {s['gen_cpu']}; live frames at full rate, "
        f"AF_PACKET when paced), SYNs to "
        f"[2001:db8::1]:25 from random sources in 2001:db8:8000::/33, through an XDP wire "
        f"namespace into the server's veth. Filters: mailgate with its default "
        f"config, {s['deny_prefixes']} deny prefixes and {s['verified_history']} verified sources "
        f"from before; nftables with the same deny prefixes in a set and a per-source meter "
        f"(10/s burst 20, as mailgate); no filter: SYN cookies and the listener.",
        "",
        "## 1. Data-path cost per packet (BPF_PROG_RUN, next to bare XDP_DROP and a parse-only program)",
        "",
    ]
    dp = r["datapath"]
    if dp["cases"]:
        lines += ["| deny entries | case | ns | bare XDP_DROP ns | parse-only ns | x parse-only |",
                  "|---:|---|---:|---:|---:|---:|"]
        for c in dp["cases"]:
            lines.append(f"| {c['deny_entries']} | {c['name']} | {c['ns']:.1f} | {c['bare_ns']:.1f} | "
                         f"{c['parse_ns']:.1f} | {c['ratio']:.2f}x |")
    elif dp["available"]:
        lines.append("bench_gate ran but printed no case lines (see latest.json).")
    else:
        lines.append("Not measured: `.output/selftests/bench_gate` is not built in this tree.")
    if r.get("cpus"):
        lines += ["", "Flood path per packet on one CPU and on two at once (bench_flood_cpus; meter: flood "
                  "mode armed, off; drop: flood mode on, flood_action = drop, the budget spent; budget: "
                  "flood mode on, every SYN takes a budget token; one source per thread):", "",
                  "| case | 1 CPU ns | 2 CPUs ns (each) | ratio |", "|---|---:|---:|---:|"]
        for c in r["cpus"]:
            lines.append(f"| {c['case']} | {c['one_cpu_ns']:.1f} | {c['two_cpus_ns']:.1f} | {c['ratio']:.2f}x |")
    if r.get("top"):
        lines += ["", "A denied SYN while nobody and while a `mailgate top` watches (bench_top; mg_stopped is "
                  "written only while a top watches, each CPU inserts at most 4096 new sources a second):", "",
                  "| case | ns | bare XDP_DROP ns | extra ns |", "|---|---:|---:|---:|"]
        for c in r["top"]:
            lines.append(f"| {c['case']} | {c['ns']:.1f} | {c['bare_ns']:.1f} | {c['extra_ns']:.1f} |")
    lines += [
        "",
        f"## 2. Flood absorption ({s['abs_secs']} s of flood at full rate)",
        "",
        "One core runs the generator and, after each of its batches, the server's receive "
        "path with the filter: the rate it sustains (frames the server's veth processed, its "
        "rx counter) is the measure of each filter's cost. The generator's own cost is in "
        "every figure, so the ratios understate the differences between the filters. Ring "
        "drops: frames that did not fit into the veth's ring.",
        "",
        "| filter | sent | absorbed | ring drops |",
        "|---|---:|---:|---:|",
    ]
    ab = r["absorption"]
    for sc, name in SCENARIOS.items():
        a = ab.get(sc, {})
        if "error" in a:
            lines.append(f"| {name} | error: {a['error']} | | |")
        else:
            lines.append(f"| {name} | {fmt_pps(a['offered_pps'])}pps | **{fmt_pps(a['absorbed_pps'])}pps** "
                         f"| {fmt_pps(a['ring_dropped_pps'])}pps |")
    rt = r["ratios"]
    lines += [
        "",
        f"- mailgate vs bare XDP_DROP: **{fmt(rt['absorption_mailgate_vs_xdp_drop'], 'x', 2)}** "
        f"(vs an XDP program that only parses the headers: {fmt(rt['absorption_mailgate_vs_xdp_parse'], 'x', 2)})",
        f"- mailgate vs nftables: **{fmt(rt['absorption_mailgate_vs_nftables'], 'x', 1)}**",
        f"- mailgate vs no filter: **{fmt(rt['absorption_mailgate_vs_none'], 'x', 1)}**",
    ]
    if rt.get("datapath_denied_vs_parse_only") is not None:
        lines.append(f"- data path, denied SYN vs parse-only XDP (largest deny list): "
                     f"**{rt['datapath_denied_vs_parse_only']:.2f}x**")
    lines += [
        "",
        f"## 3. Service under flood ({s['svc_secs']} s; {s['verified_clients']} verified clients "
        f"connecting again and again, {s['new_sources']} new sources trying once each; SMTP "
        f"connect, greeting, QUIT; {s['timeout_s']} s timeout)",
        "",
        f"The CPU layout: CPU {s['napi_cpu']} is the server's receive CPU: its veth's NAPI in a "
        "thread of its own, SCHED_FIFO 50 (it preempts ordinary tasks as a NIC's softirq does), "
        "woken by a 20 us coalescing timer while frames keep coming (a NIC's interrupt "
        "moderation), and the server's transmit (its replies and XDP_TX cookies enter the wire "
        "there, in softirq, as a NIC's TX ring costs its CPU); no other task of the lab. "
        f"CPU {s['gen_cpu']} is the internet: the generator (AF_PACKET, paced, SCHED_FIFO 10: a "
        "steady flood whatever else the machine runs), the wire's way in (softirq of every "
        "sender), and above the generator (SCHED_FIFO 20, so that it never delays them) the "
        "clients, their stack's NAPI thread and the SMTP server (a mail server's processes "
        "run on cores its receive path leaves free). What the server cannot take overflows "
        "its ring (256 frames), the clients' frames with the flood's. Verified: the clients "
        "completed one connection before the flood. New: never seen before it; each tries "
        "once (one that gets through is verified from then on). Latency: TCP connect of the "
        "successful connections; about 1 s or 2 s means one or two SYN retransmissions. "
        "Offered: the flood the generator achieved while the clients ran (its own count), "
        "marked *short* below 95% of the rung.",
        "",
        "How far to trust it: while the server keeps up, its ring overflows only in stalls "
        "of the receive CPU (milliseconds: the VM's host, other work's non-preemptible kernel "
        "sections; this kernel is PREEMPT_NONE), which the clients' SYNs meet at random, as "
        "on a real server. Above the server's capacity the ring is full but for microseconds "
        "after each frame it takes, and the lab has one CPU for the flood and the clients: a "
        "client's SYN enters the ring only after the generator yielded the CPU to it, when "
        "the ring has room, so the clients lose far fewer SYNs than the flood loses frames "
        "(both columns below; a SYN arriving at a random moment would be lost as often as a "
        "frame of the flood). Above a filter's capacity its service is overstated; the ring "
        "drops are the figure to read there. (Clients on the receive CPU above its NAPI "
        "thread err the other way: they stop the ring's consumer before each SYN.)",
        "",
        f"Ring drops: the share of the frames offered to the server's veth that did not fit "
        f"into its ring while the clients ran. Client SYNs lost: SYN retransmissions by the "
        f"clients' stack / SYNs it sent (TCPSynRetrans, ActiveOpens). NAPI thread: its share "
        f"of CPU {s['napi_cpu']} (tick-sampled, 250 Hz); CPU {s['napi_cpu']} / {s['gen_cpu']}: "
        f"how busy each CPU was meanwhile (anything, other work on the machine too).",
        "",
        "| flood | filter | offered | verified ok | p50 | p99 | new ok | p50 | p99 | ring drops | "
        f"client SYNs lost | NAPI thread | CPU {s['napi_cpu']} | CPU {s['gen_cpu']} |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for level, per in r["service"].items():
        for sc in SERVICE:
            e = per.get(sc)
            if not e or not e["verified"]["attempts"]:
                continue
            v, n = e["verified"], e["new"]
            cs = e.get("client_syns") or {}
            gc = (e.get("cpus") or {}).get(str(s["gen_cpu"]), {})
            lines.append(
                f"| {level} | {SCENARIOS[sc]} | {fmt_pps(e['flood_offered_pps'])}pps"
                f"{' *short*' if e.get('flood_short') else ''} "
                f"| **{fmt(v['success_rate'] and v['success_rate'] * 100, '%')}** ({v['ok']}/{v['attempts']}) "
                f"| {fmt(v['p50_ms'], ' ms')} | {fmt(v['p99_ms'], ' ms')} "
                f"| {fmt(n['success_rate'] and n['success_rate'] * 100, '%')} ({n['ok']}/{n['attempts']}) "
                f"| {fmt(n['p50_ms'], ' ms')} | {fmt(n['p99_ms'], ' ms')} "
                f"| {fmt(times100(e.get('ring_drop_share')), '%')} "
                f"| {fmt(times100(cs.get('syn_loss')), '%')} "
                f"| {fmt(times100(e.get('napi_thread')), '%', 0)} "
                f"| {fmt(times100(e.get('napi_cpu_busy')), '%', 0)} "
                f"| {fmt(times100(gc.get('busy')), '%', 0)} |")
    # the ladder: for each filter, the highest rung up to which it serves
    levels = list(r["service"].keys())
    if len(levels) > 1:
        lines += ["", "Highest rung up to which each filter serves >= 99% of verified and >= 95% of "
                  "new clients (every rung below it too; *short*: the generator did not reach the "
                  "rung, the offered rate is what was tested):", ""]
        lines += highest_rungs(r, levels, lambda e: e["verified"]["success_rate"] is not None and
                               e["new"]["success_rate"] is not None and
                               e["verified"]["success_rate"] >= 0.99 and e["new"]["success_rate"] >= 0.95)
        lines += ["", "Highest rung up to which the server's ring dropped under 5% of the frames (it "
                  "kept up; above it the ring is full and the clients' figures are overstated, see "
                  "above; 'clients lost SYNs' against 'ring drops' in the table):", ""]
        lines += highest_rungs(r, levels, lambda e: e.get("ring_drop_share") is not None and
                               e["ring_drop_share"] < 0.05)
    gates = [(level, r["service"][level].get("mailgate", {}).get("gate")) for level in levels]
    if any(g for _, g in gates):
        lines += ["", "What mailgate decided at each rung (its counters over the whole rung, warm-up "
                  "included; flood mode: on at the end, why it engaged; cookie handshakes: ACKs of "
                  "its XDP SYN cookies handed to the kernel):", "",
                  "| flood | flood mode | why | action | cookie handshakes | drop_cookie | drop_flood | pass_ok | other counters |",
                  "|---|---|---|---|---:|---:|---:|---:|---|"]
        for level, g in gates:
            if not g:
                continue
            c = g.get("counters", {})
            rest = ", ".join(f"{k} {v}" for k, v in c.items()
                             if v and k not in ("drop_cookie", "drop_flood", "pass_ok"))
            lines.append(f"| {level} | {'on' if g.get('flood_mode') else 'off'}"
                         f"{'' if g.get('flood_entries') else ' (never on)'} | {g.get('flood_why')} "
                         f"| {g.get('flood_action')} | {g.get('cookie_handshakes')} | {c.get('drop_cookie', 0)} "
                         f"| {c.get('drop_flood', 0)} | {c.get('pass_ok', 0)} | {rest or '-'} |")
    kern = [(level, sc, r["service"][level][sc].get("tcpext")) for level in levels for sc in SERVICE
            if r["service"][level][sc].get("tcpext")]
    if kern:
        lines += ["", "The server's kernel while the clients ran (TcpExt counters that moved): "
                  + "; ".join(f"{level} {SCENARIOS[sc]}: " + ", ".join(f"{k} {v}" for k, v in t.items())
                              for level, sc, t in kern)]
    lines += ["", "![service under flood](latest.png)", "",
              "Reproduce: `make bench` (or `scripts/bench.sh`; `--quick` for a smoke run). "
              "Every figure, with the machine facts: latest.json.", ""]
    return "\n".join(lines)


def chart_data(r, path):
    with open(path, "w") as f:
        f.write("# label verified_ok_pct new_ok_pct verified_p50_ms verified_p99_ms ring_drop_pct\n")
        for level, per in r["service"].items():
            for sc in SERVICE:
                v, n = per[sc]["verified"], per[sc]["new"]

                def num(x, mult=1):
                    return "NaN" if x is None else f"{x * mult:.2f}"
                label = f"{sc} ({level})"
                f.write(f"\"{label}\" {num(v['success_rate'], 100)} {num(n['success_rate'], 100)} "
                        f"{num(v['p50_ms'])} {num(v['p99_ms'])} {num(per[sc].get('ring_drop_share'), 100)}\n")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--work", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--quick", type=int, default=0)
    p.add_argument("--levels", default="full")
    for k in ("abs-secs", "svc-secs", "timeout", "clients", "new", "deny", "verified", "gen-cpu",
              "napi-cpu"):
        p.add_argument("--" + k, type=float, default=0)
    a = p.parse_args()
    r = {
        "machine": machine(a.quick),
        "setup": {
            "abs_secs": a.abs_secs, "svc_secs": a.svc_secs, "timeout_s": a.timeout,
            "verified_clients": int(a.clients), "new_sources": int(a.new), "deny_prefixes": int(a.deny),
            "verified_history": int(a.verified), "gen_cpu": int(a.gen_cpu), "napi_cpu": int(a.napi_cpu),
            "flood": {"src": "2001:db8:8000::/33", "dst": "2001:db8::1", "dport": 25, "threads": 1},
            "mailgate_config": "defaults (gate_default_config): syn 10/s burst 20, prefix /64 100/s "
                               "burst 200, flood_threshold 50000/s, flood_budget 1000/s",
        },
        "datapath": datapath(a.work),
        "cpus": cpus(a.work),
        "top": top(a.work),
        "absorption": absorption(a.work),
        "service": service(a.work, a.levels.split(), int(a.napi_cpu)),
    }
    ab = r["absorption"]

    def absorbed(sc):
        return ab.get(sc, {}).get("absorbed_pps")
    denied = next((c["ratio"] for c in reversed(r["datapath"]["cases"]) if "denied" in c["name"].lower()), None)
    r["ratios"] = {
        "absorption_mailgate_vs_xdp_drop": ratio(absorbed("mailgate"), absorbed("xdp_drop")),
        "absorption_mailgate_vs_xdp_parse": ratio(absorbed("mailgate"), absorbed("xdp_parse")),
        "absorption_mailgate_vs_nftables": ratio(absorbed("mailgate"), absorbed("nftables")),
        "absorption_mailgate_vs_none": ratio(absorbed("mailgate"), absorbed("none")),
        "datapath_denied_vs_parse_only": denied,
    }
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "latest.json"), "w") as f:
        json.dump(r, f, indent=2)
        f.write("\n")
    with open(os.path.join(a.out, "latest.md"), "w") as f:
        f.write(markdown(r))
    chart_data(r, os.path.join(a.out, "latest.dat"))


if __name__ == "__main__":
    main()
