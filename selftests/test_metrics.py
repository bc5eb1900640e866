#!/usr/bin/env python3
# The Prometheus-parser half of selftests/test_metrics.c (and of the
# integration test): parse an exposition with prometheus_client's own text
# parser, check every family against the schema below (type, HELP, label
# names), then check the values the caller expects.
#
# usage: test_metrics.py SOURCE [EXPECT.json]
#   SOURCE: http://... (fetched with urllib) or a file
#   EXPECT: {"families": {NAME: {"exact": bool,
#                                 "samples": [[{label: value}, value, tolerance?], ...]}},
#            "dashboard": "path/to/grafana.json",
#            "stats_json": "output of mailgate stats --json"}
#     NAME is the sample name (mailgate_packets_total); "exact": every sample
#     of the family not listed must be 0.
# Prints one line per problem; exit 0 when there is none.
import json
import re
import sys
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

# The contract: docs/operations.md, "The metrics". name -> (type, labels)
SCHEMA = {
    "mailgate_build_info": ("gauge", {"version"}),
    "mailgate_config_info": ("gauge", {"mode", "action"}),
    "mailgate_packets_total": ("counter", {"reason", "class"}),
    "mailgate_events_total": ("counter", {"kind"}),
    "mailgate_events_lost_total": ("counter", set()),
    "mailgate_bans_created_total": ("counter", {"origin"}),
    "mailgate_bans": ("gauge", {"origin"}),
    "mailgate_rejects_answered_total": ("counter", {"reason"}),
    "mailgate_sources": ("gauge", {"map"}),
    "mailgate_map_capacity": ("gauge", {"map"}),
    "mailgate_map_turnover_per_second": ("gauge", {"map"}),
    "mailgate_flood_mode": ("gauge", set()),
    "mailgate_concurrent_connections": ("gauge", {"class"}),
    "mailgate_start_time_seconds": ("gauge", set()),
    "mailgate_dnsbl_queries_total": ("counter", {"zone", "result"}),
    "mailgate_dnsbl_query_seconds": ("histogram", {"zone"}),
    # the DNSBL module's own, only while DNSBL is on (user/dnsbl.c)
    "mailgate_dnsbl_zone_suspended": ("gauge", {"zone"}),
    "mailgate_dnsbl_zone_serving": ("gauge", {"zone", "family"}),
    "mailgate_dnsbl_zone_backoff": ("gauge", {"zone"}),
    "mailgate_dnsbl_skipped_total": ("counter", {"zone"}),
    "mailgate_dnsbl_selftests_total": ("counter", {"zone", "family", "result"}),
    "mailgate_dnsbl_verdicts_total": ("counter", {"verdict"}),
    "mailgate_dnsbl_verdict_seconds": ("histogram", set()),
    "mailgate_dnsbl_submissions_dropped_total": ("counter", set()),
    "mailgate_dnsbl_queue_length": ("gauge", set()),
}
# families that may be absent: the daemon's start time (only with a
# daemon), the DNSBL module's own (only with DNSBL on)
OPTIONAL = {"mailgate_start_time_seconds", "mailgate_map_turnover_per_second"} | {
    k for k in SCHEMA if k.startswith("mailgate_dnsbl_") and k not in (
        "mailgate_dnsbl_queries_total", "mailgate_dnsbl_query_seconds")}
# families other modules may add, checked only for HELP and TYPE
EXTRA_PREFIX = "mailgate_"


def family_key(m):
    """prometheus_client drops _total from a counter family's name"""
    return m.name + "_total" if m.type == "counter" else m.name


def load(source):
    if source.startswith("http://"):
        with urllib.request.urlopen(source, timeout=30) as r:
            ctype = r.headers.get("Content-Type", "")
            if ctype != "text/plain; version=0.0.4; charset=utf-8":
                print(f"content type {ctype!r}")
                return None
            return r.read().decode("utf-8")
    with open(source, encoding="utf-8") as f:
        return f.read()


def check_schema(families, problems):
    seen = {}
    for m in families:
        key = family_key(m)
        if key in seen:
            problems.append(f"{key}: family appears twice")
        seen[key] = m
        if not m.documentation:
            problems.append(f"{key}: no HELP text")
        if key not in SCHEMA:
            if not key.startswith(EXTRA_PREFIX) or m.type == "unknown":
                problems.append(f"{key}: not in the schema (type {m.type})")
            continue
        want_type, want_labels = SCHEMA[key]
        if m.type != want_type:
            problems.append(f"{key}: type {m.type}, want {want_type}")
        for s in m.samples:
            labels = set(s.labels)
            if want_type == "histogram":
                if s.name.endswith("_bucket"):
                    if "le" not in labels:
                        problems.append(f"{s.name}: bucket without le")
                    labels.discard("le")
                if not labels <= want_labels:
                    problems.append(f"{s.name}: labels {sorted(labels)}, want a subset of {sorted(want_labels)}")
            elif labels != want_labels:
                problems.append(f"{s.name}: labels {sorted(labels)}, want {sorted(want_labels)}")
            if want_type == "counter" and s.value < 0:
                problems.append(f"{s.name}{s.labels}: negative counter {s.value}")
    for key in SCHEMA:
        if key not in seen and key not in OPTIONAL:
            problems.append(f"{key}: family missing")
    return seen


def check_values(seen, expect, problems):
    for name, want in expect.get("families", {}).items():
        m = seen.get(name)
        if m is None:
            problems.append(f"{name}: expected values, family missing")
            continue
        samples = [s for s in m.samples if s.name == name]
        listed = []
        for entry in want.get("samples", []):
            labels, value = entry[0], entry[1]
            tol = entry[2] if len(entry) > 2 else 0
            hits = [s for s in samples if s.labels == labels]
            if len(hits) != 1:
                problems.append(f"{name}{labels}: {len(hits)} samples, want 1")
                continue
            listed.append(hits[0])
            if abs(hits[0].value - value) > tol:
                problems.append(f"{name}{labels}: {hits[0].value}, want {value}" +
                                (f" +-{tol}" if tol else ""))
        if want.get("exact"):
            for s in samples:
                if s not in listed and s.value != 0:
                    problems.append(f"{name}{s.labels}: {s.value}, want 0 (not expected)")


def check_dashboard(path, problems):
    """every metric a dashboard query uses is one we export"""
    with open(path, encoding="utf-8") as f:
        dash = json.load(f)
    names = set()

    def walk(o):
        if isinstance(o, dict):
            for k, v in o.items():
                if k in ("expr", "query") and isinstance(v, str):
                    names.update(re.findall(r"\bmailgate_[a-z_]+", v))
                walk(v)
        elif isinstance(o, list):
            for v in o:
                walk(v)
    walk(dash)
    if not names:
        problems.append(f"{path}: no mailgate queries")
    for n in sorted(names):
        base = re.sub(r"_(bucket|sum|count)$", "", n)
        if n not in SCHEMA and base not in SCHEMA:
            problems.append(f"{path}: query uses {n}, which is not exported")


def stats_counters(doc, reasons, classes):
    """(reason, class) -> count from `mailgate stats --json`, whatever its
    nesting: objects with reason, class and a count field, or
    {reason: {class: n}}, or {class: {reason: n}}"""
    out = {}

    def num(v):
        return isinstance(v, (int, float)) and not isinstance(v, bool)

    def walk(o):
        if isinstance(o, dict):
            if o.get("reason") in reasons and o.get("class") in classes:
                for k in ("count", "packets", "value", "total"):
                    if num(o.get(k)):
                        out[(o["reason"], o["class"])] = o[k]
                        break
            for k, v in o.items():
                if isinstance(v, dict) and k in reasons:
                    out.update({(k, c): n for c, n in v.items() if c in classes and num(n)})
                if isinstance(v, dict) and k in classes:
                    out.update({(r, k): n for r, n in v.items() if r in reasons and num(n)})
                walk(v)
        elif isinstance(o, list):
            for v in o:
                walk(v)
    walk(doc)
    return out


def check_stats(seen, path, problems):
    """`mailgate stats --json` and /metrics agree on every gated counter"""
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    m = seen.get("mailgate_packets_total")
    if m is None:
        return
    scrape = {(s.labels["reason"], s.labels["class"]): s.value
              for s in m.samples if s.name == "mailgate_packets_total"}
    reasons = {r for r, _ in scrape}
    classes = {c for _, c in scrape}
    stats = stats_counters(doc, reasons, classes)
    if not stats:
        problems.append(f"{path}: no counters by reason and class found")
        return
    for key in sorted(set(scrape) | set(stats)):
        if key[1] == "none":
            continue  # ARP, neighbour discovery ... keep coming in between
        a, b = scrape.get(key, 0), stats.get(key, 0)
        if a != b:
            problems.append(f"reason={key[0]} class={key[1]}: /metrics {a}, stats --json {b}")


def main():
    if len(sys.argv) < 2:
        print(__doc__ or "usage: test_metrics.py SOURCE [EXPECT.json]")
        return 2
    text = load(sys.argv[1])
    if text is None:
        return 1
    expect = {}
    if len(sys.argv) > 2:
        with open(sys.argv[2], encoding="utf-8") as f:
            expect = json.load(f)
    problems = []
    try:
        families = list(text_string_to_metric_families(text))
    except Exception as e:  # the parser's complaint is the finding
        print(f"parse error: {e}")
        return 1
    seen = check_schema(families, problems)
    check_values(seen, expect, problems)
    if expect.get("stats_json"):
        check_stats(seen, expect["stats_json"], problems)
    if expect.get("dashboard"):
        check_dashboard(expect["dashboard"], problems)
    for p in problems:
        print(p)
    print(f"{len(families)} families, {sum(len(m.samples) for m in families)} samples, "
          f"{len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
