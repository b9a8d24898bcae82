#!/usr/bin/env python3
"""deploy/bench/report.py — the tables of deploy/bench/run.sh.

Reads the results directory run.sh filled (colonnade bench --json files, anchor
outputs) and writes, between "<!-- bench:begin -->" and "<!-- bench:end -->" of
docs/BENCHMARKS.md (a rerun replaces it; the rest of the file is left alone):

  1. the acceptance table: every figure issue 13 asks for, its target (floor and
     aim) and what this sitting measured, with "meets floor" for the glance;
  2. every colonnade run in detail;
  3. the anchors, the ratios, and the storage engine beside db_bench.

Figures are reported, never judged: this exits 0 whatever they are.
"""
import argparse
import csv
import json
import os
import re


def load(res, name):
    try:
        with open(os.path.join(res, name + ".json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def err_of(res, name):
    try:
        with open(os.path.join(res, name + ".err")) as f:
            lines = [l for l in f.read().splitlines() if "colonnade bench:" in l]
        return "failed: " + (lines[-1].replace("colonnade bench: ", "") if lines else "?")
    except OSError:
        return "not run"


def num(x, d=0):
    return "-" if x is None else f"{x:,.{d}f}"


def lat(j, key="latency_ms"):
    """(p50, p99, p99.9) in ms of one latency object of a run, or None."""
    if not j or not j.get(key):
        return None
    l = j[key]
    return l["p50"], l["p99"], l["p999"]


def anchors_of(res):
    a = {}

    def fig(name):
        try:
            with open(os.path.join(res, name + ".fig")) as f:
                v = f.read().split()
            ops, p50, p99 = float(v[0]), float(v[1]), float(v[2])
            return (ops, p50, p99) if ops > 0 else None
        except (OSError, ValueError, IndexError):
            return None

    a["dbb_fill"] = fig("dbb_fill")
    a["dbb_read"] = fig("dbb_read")
    for fname, prefix in (("redis.csv", "redis_"), ("redis_p16.csv", "redis_p16_")):
        try:
            with open(os.path.join(res, fname)) as f:
                for r in csv.DictReader(f):
                    a[prefix + r["test"].lower()] = (float(r["rps"]), float(r["p50_latency_ms"]),
                                                     float(r["p99_latency_ms"]))
        except (OSError, ValueError, KeyError):
            pass

    def wrk(name):
        try:
            with open(os.path.join(res, name + ".txt")) as f:
                t = f.read()
            rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))

            def pct(p):
                m = re.search(r"^\s+%s%%\s+([\d.]+)(us|ms|s)\s*$" % p, t, re.M)
                v, u = float(m.group(1)), m.group(2)
                return v / 1000 if u == "us" else v * 1000 if u == "s" else v

            non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
            if non2xx and int(non2xx.group(1)) > 0:
                return None
            return (rps, pct(50), pct(99))
        except (OSError, AttributeError, ValueError):
            return None

    a["etcd_put"] = wrk("etcd_put")
    a["etcd_range"] = wrk("etcd_range")
    return a


def storage_of(res, n):
    """{row: (ops/s, cpu µs/op)} for db_bench and the storage API, n operations each."""
    out = {}
    for name, bench in (("sdb_fill", "fillrandom"), ("sdb_read", "readrandom")):
        try:
            with open(os.path.join(res, name + ".txt")) as f:
                t = f.read()
            with open(os.path.join(res, name + ".cpu")) as f:
                cpu = float(f.read())
            ops = re.findall(bench + r"\s*:\s*[\d.]+ micros/op (\d+) ops/sec", t)
            if ops:
                out[name] = (float(ops[-1]), cpu * 1e6 / n)
        except (OSError, ValueError):
            pass
    for name, bench in (("sb_fill", "fillrandom"), ("sb_read", "readrandom")):
        try:
            with open(os.path.join(res, name + ".txt")) as f:
                t = f.read()
            ops = re.search(bench + r"\s+value=\d+ ops=\d+\s+([\d.]+) ops/s", t)
            cpu = re.search(bench + r"\s+cpu ([\d.]+) us/op", t)
            if ops and cpu and "NOT FOUND" not in t:
                out[name] = (float(ops.group(1)), float(cpu.group(1)))
        except (OSError, ValueError):
            pass
    return out


def acceptance(res, a, over_secs):
    """Rows (what, target, measured, meets) of the acceptance table."""
    rows = []
    wq, rq = load(res, "write_quorum"), load(res, "read_quorum")
    w50, r50 = load(res, "write_quorum_50"), load(res, "read_quorum_50")

    def ops(j):
        return j["ops_per_s"] if j else None

    def meets(ok):
        return "-" if ok is None else ("yes" if ok else "**no**")

    def peak(label, j, floor, aim):
        v = ops(j)
        m = f"{num(v)}/s (p99 {j['latency_ms']['p99']:.2f} ms)" if j else err_of(res, label)
        return (f"3 nodes RF 3, QUORUM {'writes' if 'write' in label else 'reads'}, closed-loop "
                f"peak", f"≥ {floor:,} (aim {aim:,})", m, meets(v and v >= floor))

    rows.append(peak("write_quorum", wq, 30000, 40000))
    rows.append(peak("read_quorum", rq, 30000, 45000))
    rs = a.get("redis_set")
    ratio = ops(wq) / rs[0] if wq and rs and rs[0] else None
    rows.append(("QUORUM writes ÷ redis SET/s (50 clients, 100 B, same sitting)", "≥ 0.45 (aim 0.6)",
                 f"{ratio:.2f} (redis SET {num(rs[0])}/s)" if ratio else "- (a run is missing)",
                 meets(ratio and ratio >= 0.45)))
    for name, j, what in (("write_quorum_50", w50, "writes"), ("read_quorum_50", r50, "reads")):
        if not j:
            rows.append((f"open loop at half the peak, QUORUM {what}", "", err_of(res, name), "-"))
            continue
        p50, p99, p999 = lat(j)
        sd = j.get("send_delay_ms") or {}
        sd99 = sd.get("p99")
        el99 = (j.get("encode_lag_ms") or {}).get("p99")
        at = f"at {num(j['target_rate'])}/s"
        rows.append((f"open loop at half the peak, QUORUM {what}: p99", "≤ 5 ms (aim 1 ms)",
                     f"p50 {p50:.2f} / **p99 {p99:.2f}** / p99.9 {p999:.2f} ms {at}", meets(p99 <= 5)))
        rows.append((f"open loop at half the peak, QUORUM {what}: p99.9", "≤ 20 ms",
                     f"{p999:.2f} ms", meets(p999 <= 20)))
        rows.append((f"open loop at half the peak, QUORUM {what}: client send delay p99",
                     "< 0.2 ms", "-" if sd99 is None else f"{sd99:.3f} ms" +
                     ("" if el99 is None else f" (the client's own encode lag {el99:.3f} ms)"),
                     meets(sd99 is not None and sd99 < 0.2)))
    for name, j, when in (("write_quorum", wq, "at the peak"), ("write_quorum_50", w50, "at half load")):
        c = j.get("node_cpu_us_per_op") if j else None
        n = j.get("nodes_measured", 0) if j else 0
        rows.append((f"CPU per QUORUM write, all nodes together, {when}", "≤ 50 µs (aim 30 µs)",
                     "-" if c is None else f"{c:.1f} µs ({n} nodes)", meets(c is not None and c <= 50)))
    for op in ("write", "read"):
        j1, j2 = load(res, f"single_{op}_io1"), load(res, f"single_{op}_io2")
        if j1 and j2 and ops(j1):
            r = ops(j2) / ops(j1)
            m = f"{r:.2f}× ({num(ops(j1))}/s → {num(ops(j2))}/s)"
        else:
            r, m = None, err_of(res, f"single_{op}_io{1 if not j1 else 2}")
        rows.append((f"one node, ONE {op}s: io_threads 2 ÷ io_threads 1", "≥ 1.4×", m,
                     meets(r and r >= 1.4)))
    jb = load(res, "write_quorum_batch")
    rows.append(("QUORUM writes with commitlog_sync: batch (fsync before the ack)", "≥ 10,000/s",
                 f"{num(ops(jb))}/s (p99 {jb['latency_ms']['p99']:.2f} ms)" if jb
                 else err_of(res, "write_quorum_batch"), meets(jb and ops(jb) >= 10000)))
    jo = load(res, "overload")
    if jo:
        e = jo["errors"]
        okl = jo.get("ok_latency_ms") or {}
        ok_p99 = okl.get("p99")
        accepted = jo["ok"] / jo["elapsed_s"] if jo["elapsed_s"] else 0
        kinds = [("write_timeout", "WriteTimeout"), ("unavailable", "Unavailable"),
                 ("other_server", "other server errors"), ("connection", "connection errors"),
                 ("client_timeout", "client timeouts")]
        other = ", ".join(f"{label} {e[k]:,}" for k, label in kinds if e.get(k)) or "no other errors"
        sd = (jo.get("send_delay_ms") or {}).get("p99")
        el = (jo.get("encode_lag_ms") or {}).get("p99")
        rows.append((f"offered 2 × the write peak, open loop, {over_secs} s: accepted p99, or the "
                     f"excess refused", "p99 ≤ 20 ms, or Overloaded",
                     f"offered {num(jo['target_rate'])}/s, accepted {num(accepted)}/s, "
                     f"**p99 of accepted {'-' if ok_p99 is None else f'{ok_p99:.1f}'} ms**, "
                     f"Overloaded {e['overloaded']:,}, {other}, not sent "
                     f"{jo['backlog']:,}, send delay p99 {'-' if sd is None else f'{sd:.1f}'} ms"
                     f"{'' if el is None else f' (encode lag {el:.1f} ms)'}",
                     "yes" if ok_p99 is not None and ok_p99 <= 20 else
                     "refused with Overloaded; accepted p99 over 20 ms" if e["overloaded"] else
                     "**no**"))
        procs = [p for p in jo.get("node_processes", []) if "cpu_s" in p]
        rss = [p["rss_peak_mib"] for p in procs]
        rows.append(("… each node's RSS during it", "< 512 MiB",
                     ", ".join(f"{x:.0f}" for x in rss) + " MiB" if rss else "-",
                     meets(bool(rss) and max(rss) < 512)))
    else:
        rows.append((f"offered 2 × the write peak, open loop, {over_secs} s", "", err_of(res, "overload"), "-"))
    after = load(res, "overload_after")
    if after:
        rows.append(("… the nodes stay up (processes alive, UN in `colonnade status`)",
                     f"{after['nodes']} of {after['nodes']}",
                     f"{after['alive']} alive, {after['un']} UN",
                     meets(after["alive"] == after["nodes"] and after["un"] == after["nodes"])))
    rows.append(("60 s write stall: no node marked DN, heartbeats keep their interval",
                 "never DN", "not measured here: a test with real processes", "-"))
    return rows


def detail(res):
    runs = [
        ("write_quorum", "QUORUM writes, closed loop (peak)"),
        ("read_quorum_uncompacted", "QUORUM reads, closed loop, as the write peak left the store"),
        ("read_quorum", "QUORUM reads, closed loop (peak), compacted store"),
        ("write_quorum_50", "QUORUM writes, open loop at 50 % of peak"),
        ("read_quorum_50", "QUORUM reads, open loop at 50 % of peak, compacted store"),
        ("write_one", "ONE writes, closed loop"),
        ("read_one", "ONE reads, closed loop"),
        ("write_all", "ALL writes, closed loop"),
        ("read_all", "ALL reads, closed loop"),
        ("write_pipelined", "QUORUM writes, 16 in flight per connection"),
        ("ycsb_a", "YCSB A (50/50 read/update, zipfian), QUORUM"),
        ("idle_write", "one client, QUORUM writes"),
        ("idle_read", "one client, QUORUM reads"),
        ("overload", "QUORUM writes, open loop at 2 × peak"),
        ("write_quorum_batch", "QUORUM writes, commitlog_sync: batch"),
        ("single_write_io1", "one node, ONE writes, io_threads 1"),
        ("single_read_io1", "one node, ONE reads, io_threads 1"),
        ("single_write_io2", "one node, ONE writes, io_threads 2"),
        ("single_read_io2", "one node, ONE reads, io_threads 2"),
    ]
    lines = ["| run | conns × in flight (max) | loop | ops/s | p50 ms | p99 ms | p99.9 ms | max ms "
             "| send delay p99 ms | errors (Overloaded) | node CPU µs/op | node RSS peak MiB (max) |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    figs = {}
    for name, label in runs:
        j = load(res, name)
        if not j:
            e = err_of(res, name)
            if e != "not run":
                lines.append(f"| {label} | | | {e.replace('|', '/')} | | | | | | | | |")
            continue
        l = j["latency_ms"]
        procs = [p for p in j.get("node_processes", []) if "cpu_s" in p]
        rss = max(p["rss_peak_mib"] for p in procs) if procs else None
        open_loop = j["loop"] == "open"
        loop = f"open @ {num(j['target_rate'])}/s" if open_loop else "closed"
        sd = (j.get("send_delay_ms") or {}).get("p99")
        figs[name] = j
        lines.append(
            f"| {label} | {j['connections']} × {j['inflight_per_connection']}"
            f"{' (' + str(j.get('max_inflight_per_connection')) + ')' if open_loop else ''} | {loop} | "
            f"{num(j['ops_per_s'])} | {l['p50']:.3f} | {l['p99']:.3f} | {l['p999']:.3f} | "
            f"{l['max']:.3f} | {'-' if sd is None else f'{sd:.3f}'} | "
            f"{j['errors']['total']} ({j['errors']['overloaded']}) | "
            f"{num(j.get('node_cpu_us_per_op'), 1)} | {num(rss, 1)} |")
    return lines, figs


def anchor_lines(a, figs):
    lines = ["Anchors measured in the same sitting (same value size, 50 clients where the tool "
             "has clients):", "", "| anchor | ops/s | p50 ms | p99 ms |", "|---|---:|---:|---:|"]
    for k, label in [("dbb_fill", "RocksDB db_bench fillrandom, 1 thread (no network)"),
                     ("dbb_read", "RocksDB db_bench readrandom, 1 thread, cold block cache"),
                     ("redis_set", "redis SET, 50 clients, -P 1, no persistence"),
                     ("redis_get", "redis GET, 50 clients, -P 1"),
                     ("redis_p16_set", "redis SET, 50 clients, -P 16"),
                     ("etcd_put", "etcd put, 3 members, 50 clients (wrk)"),
                     ("etcd_range", "etcd linearizable range, 3 members, 50 clients (wrk)")]:
        v = a.get(k)
        lines.append(f"| {label} | {num(v[0])} | {v[1]:.3f} | {v[2]:.3f} |" if v
                     else f"| {label} | not run (tool missing, quick mode or failed) | | |")
    lines += ["", "Ratios (colonnade ÷ anchor, ops/s):", "",
              "| colonnade | ÷ db_bench | ÷ redis | ÷ etcd (50 clients) |", "|---|---:|---:|---:|"]

    def ratio(c, b):
        return "-" if not c or not b or not b[0] else f"{c['ops_per_s'] / b[0]:.2f}×"

    for name, label, dbb, red, etc in [
            ("write_quorum", "QUORUM writes", "dbb_fill", "redis_set", "etcd_put"),
            ("read_quorum", "QUORUM reads", "dbb_read", "redis_get", "etcd_range"),
            ("write_pipelined", "QUORUM writes, 16 in flight (redis: -P 16)", "dbb_fill",
             "redis_p16_set", "etcd_put")]:
        c = figs.get(name)
        lines.append(f"| {label} | {ratio(c, a.get(dbb))} | {ratio(c, a.get(red))} | "
                     f"{ratio(c, a.get(etc))} |")
    return lines


def storage_lines(st, n):
    if not st:
        return []
    lines = ["", f"The storage engine beside db_bench in the same sitting ({n:,} keys of 16 bytes, "
             "100-byte values, one thread; CPU of every thread, flushes and compactions "
             "included; docs/BENCHMARKS.md, Storage engine):", "",
             "| workload | db_bench ops/s | CPU µs/op | storage API ops/s | CPU µs/op | ratio (CPU) |",
             "|---|---:|---:|---:|---:|---:|"]
    for label, d, s in (("fillrandom", "sdb_fill", "sb_fill"),
                        ("readrandom, after waiting for compactions", "sdb_read", "sb_read")):
        dv, sv = st.get(d), st.get(s)
        r = f"**{dv[1] / sv[1]:.2f}**" if dv and sv and sv[1] else "-"
        lines.append(f"| {label} | {num(dv[0]) if dv else '-'} | {f'{dv[1]:.2f}' if dv else '-'} | "
                     f"{num(sv[0]) if sv else '-'} | {f'{sv[1]:.2f}' if sv else '-'} | {r} |")
    return lines


def main():
    ap = argparse.ArgumentParser()
    for k in ("results", "out", "started", "seconds", "overload-seconds", "records",
              "storage-num", "load", "minutes", "command", "commit", "client-how"):
        ap.add_argument("--" + k, required=True)
    o = ap.parse_args()
    res = o.results
    a = anchors_of(res)
    lines = [f"Run {o.started}, commit {o.commit}, {o.minutes} minutes, load average when it "
             f"started {o.load} (2 vCPUs shared by the nodes, the load generator and the anchors; "
             f"other work on the machine lowers every figure, anchors included). "
             f"{o.seconds} s per run, 100-byte values, {int(o.records):,} partitions, 50 "
             f"connections; the load generators ran {o.client_how}. Produced by:", "", "```sh", o.command, "```", "",
             "**Acceptance** (issue 13; floor, aim in brackets):", "",
             "| acceptance | target | measured | meets floor |", "|---|---|---|---|"]
    for what, target, measured, ok in acceptance(res, a, o.overload_seconds):
        lines.append(f"| {what} | {target} | {measured} | {ok} |")
    settled = [(n, load(res, "settle_" + n)) for n in
               ("write_quorum", "read_quorum_uncompacted", "read_quorum", "write_quorum_50",
                "read_quorum_50",
                "single_write_io1", "single_read_io1", "single_write_io2", "single_read_io2")]
    settled = [f"{n} {j['settle_s']} s" + ("" if not j.get("busy_after") else
                                          f" (still busy: {j['busy_after']})")
               for n, j in settled if j]
    if settled:
        lines += ["", "Before each QUORUM peak and open-loop run, and each single-node run, the script waited until no node "
                  "had a RocksDB flush or compaction running or due (`colonnade_storage_*` in "
                  "/metrics, at most 120 s), so no run pays for the compaction debt of the run "
                  "before it; what a run's own writes cause falls inside it. Waited: "
                  + ", ".join(settled) + "."]
    compacted = [(n, load(res, "compact_" + n)) for n in
                 ("read_quorum", "read_quorum_50", "single_read_io1", "single_read_io2")]
    compacted = [f"{n} {j['compact_s']} s" + ("" if j.get("ok") else " (failed: see the run's log)")
                 for n, j in compacted if j]
    if compacted:
        uc = load(res, "read_quorum_uncompacted")
        uc = (f" (as the write peak left it, memtable and L0 files, the same reads did "
              f"{num(uc['ops_per_s'])}/s: the row \"as the write peak left the store\" below)"
              if uc else "")
        lines += ["", "Before each read run of record the script compacted the keyspace on every "
                  "node and waited for it (`colonnade compact`), so reads meet one sorted run, as "
                  "the db_bench read anchor does after `waitforcompaction`, rather than whatever "
                  "the write run before left" + uc + ". Compacted: " + ", ".join(compacted) + "."]
    det, figs = detail(res)
    lines += ["", "Every run (open loop: latency from each request's scheduled start; in flight: "
              "as asked (most on one connection); node CPU: all nodes together, per operation):",
              ""] + det + [""]
    lines += anchor_lines(a, figs)
    lines += storage_lines(storage_of(res, int(o.storage_num)), int(o.storage_num))
    block = "<!-- bench:begin -->\n" + "\n".join(lines) + "\n<!-- bench:end -->"
    text = open(o.out).read() if os.path.exists(o.out) else ""
    if "<!-- bench:begin -->" in text and "<!-- bench:end -->" in text:
        text = re.sub(r"<!-- bench:begin -->.*?<!-- bench:end -->", lambda m: block, text,
                      flags=re.S)
    elif "## Cluster benchmarks" in text:
        text = text.replace("## Cluster benchmarks", "## Cluster benchmarks\n\n" + block, 1)
    else:
        text = (text.rstrip("\n") or "# Benchmarks") + "\n\n## Cluster benchmarks\n\n" + block + "\n"
    with open(o.out, "w") as f:
        f.write(text)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
