#!/usr/bin/env python3
"""Generates the oracle checkers' fixtures (checkers/testdata/<checker>/).

Each history is simulated against a sequential server: an op takes effect
at one instant x and its client sees [invoke, complete] around x, so the
clean histories are correct by construction. Each bad twin injects one
known anomaly, named in the checker's cases.json. Deterministic (seeded):
re-running rewrites the same files.

    python3 checkers/testdata/gen/fixtures.py
"""
import json
import os
import random

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def row(op_id, proc, inv, cmp, typ, key=None, inp=None, out=None, err=None, timeout=False, node=None):
    return {"op_id": op_id, "process_id": proc, "invoke_ts": inv,
            "complete_ts": None if timeout else cmp, "op_type": typ, "key": key,
            "input": inp, "output": None if timeout else out, "error": err,
            "timeout_marker": timeout, "node_seen": node, "fault_epoch": None}


def write(checker, name, ops):
    d = os.path.join(ROOT, checker)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "w") as f:
        for o in ops:
            f.write(json.dumps(o, separators=(",", ":")) + "\n")


def write_json(checker, name, v):
    d = os.path.join(ROOT, checker)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "w") as f:
        json.dump(v, f, indent=1)
        f.write("\n")


def cases(checker, cs):
    write_json(checker, "cases.json", cs)


def counter():
    r = random.Random(1)
    ops, total, t = [], 0, 1_000_000
    for i in range(300):
        x = t + i * 1000
        inv, cmp = x - r.randint(1, 900), x + r.randint(1, 900)
        if r.random() < 0.6:
            d = r.randint(1, 5)
            proc = "w%d" % r.randint(0, 2)
            if r.random() < 0.05:  # timed out: applied or not
                if r.random() < 0.5:
                    total += d
                ops.append(row("inc-%d" % i, proc, inv, None, "inc", inp=d, timeout=True))
            else:
                total += d
                ops.append(row("inc-%d" % i, proc, inv, cmp, "inc", inp=d))
        else:
            ops.append(row("read-%d" % i, "r%d" % r.randint(0, 1), inv, cmp, "read", out=total))
    write("counter", "history.jsonl", ops)
    bad = [dict(o) for o in ops]
    # A late read returns less than what was acknowledged before it began.
    last = max(i for i, o in enumerate(bad) if o["op_type"] == "read")
    bad[last]["output"] = bad[last]["output"] - 100
    write("counter", "history-lost.jsonl", bad)
    cases("counter", [
        {"name": "clean", "history": "history.jsonl", "model": "counter", "want": "ok"},
        {"name": "read below acknowledged", "history": "history-lost.jsonl", "model": "counter", "want": "violation",
         "kinds": ["counter-out-of-bounds"], "ops": [bad[last]["op_id"]]},
    ])


def versions():
    """monotonic-read and session-consistency: a versioned key-value store."""
    r = random.Random(2)
    state = {k: (0, 0) for k in "abc"}  # key -> (value, version)
    ops, t = [], 1_000_000
    procs = ["c0", "c1", "c2"]
    last = {p: None for p in procs}  # per process, time of its last op end
    for i in range(240):
        p = procs[i % 3]
        x = t + i * 1000
        inv, cmp = x - r.randint(1, 400), x + r.randint(1, 400)
        k = r.choice("abc")
        if r.random() < 0.4:
            v = i
            ver = state[k][1] + 1
            state[k] = (v, ver)
            ops.append(row("w-%d" % i, p, inv, cmp, "write", key=k, inp=v, out={"version": ver}))
        else:
            v, ver = state[k]
            ops.append(row("r-%d" % i, p, inv, cmp, "read", key=k, out={"value": v, "version": ver}))
    return ops


def monotonic():
    ops = versions()
    write("monotonic", "history.jsonl", ops)
    bad = [dict(o) for o in ops]
    # c1 reads key b at an old version after a newer one.
    reads = [i for i, o in enumerate(bad) if o["op_type"] == "read" and o["process_id"] == "c1" and o["key"] == "b"
             and o["output"]["version"] >= 2]
    i = reads[-1]
    bad[i] = dict(bad[i], output={"value": -1, "version": 1})
    write("monotonic", "history-stale.jsonl", bad)
    # The same stale read after a reconnect: a new session, no anomaly.
    rec = bad[:i] + [row("reconnect-1", "c1", bad[i]["invoke_ts"] - 2, bad[i]["invoke_ts"] - 1, "reconnect")] + bad[i:]
    write("monotonic", "history-reconnect.jsonl", rec)
    cases("monotonic", [
        {"name": "clean", "history": "history.jsonl", "model": "session", "want": "ok"},
        {"name": "stale read", "history": "history-stale.jsonl", "model": "session", "want": "violation",
         "kinds": ["non-monotonic-read"]},
        {"name": "stale read after a reconnect", "history": "history-reconnect.jsonl", "model": "session", "want": "ok"},
    ])


def session():
    ops = versions()
    write("session_consistency", "history.jsonl", ops)
    bad = [dict(o) for o in ops]
    # c2 writes key a, then at once reads a version older than its write.
    writes = [i for i, o in enumerate(bad) if o["op_type"] == "write" and o["process_id"] == "c2"]
    w = writes[len(writes) // 2]
    nxt = max(o["complete_ts"] for o in bad[: w + 1]) + 1
    bad.insert(w + 1, row("r-stale", "c2", bad[w]["complete_ts"] + 1, bad[w]["complete_ts"] + 2, "read", key=bad[w]["key"],
                          out={"value": -1, "version": bad[w]["output"]["version"] - 1}))
    write("session_consistency", "history-missed.jsonl", bad)
    cases("session_consistency", [
        {"name": "clean", "history": "history.jsonl", "model": "session", "options": {"version_field": "version"}, "want": "ok"},
        {"name": "read misses own write", "history": "history-missed.jsonl", "model": "session",
         "options": {"version_field": "version"}, "want": "violation", "kinds": ["read-your-writes"],
         "ops": [bad[w]["op_id"], "r-stale"]},
    ])


def prefix():
    r = random.Random(3)
    ops, queue, t, n = [], [], 1_000_000, 0
    for i in range(400):
        x = t + i * 1000
        inv, cmp = x - r.randint(1, 400), x + r.randint(1, 400)
        if r.random() < 0.55 or not queue:
            p = "p%d" % r.randint(0, 2)
            v = n
            n += 1
            queue.append(v)
            ops.append(row("enq-%d" % i, p, x - 100, x + 100, "enqueue", inp=v))
        else:
            ops.append(row("deq-%d" % i, "c%d" % r.randint(0, 1), inv, cmp, "dequeue", out=queue.pop(0)))
    write("prefix", "history.jsonl", ops)
    bad = [dict(o) for o in ops]
    producer = {o["input"]: o["process_id"] for o in bad if o["op_type"] == "enqueue"}
    deqs = [i for i, o in enumerate(bad) if o["op_type"] == "dequeue" and o["process_id"] == "c0"]
    a, b = next((a, b) for a, b in zip(deqs[10:], deqs[11:]) if producer[bad[a]["output"]] == producer[bad[b]["output"]])
    bad[a]["output"], bad[b]["output"] = bad[b]["output"], bad[a]["output"]
    write("prefix", "history-reorder.jsonl", bad)
    cases("prefix", [
        {"name": "clean", "history": "history.jsonl", "model": "queue", "want": "ok"},
        {"name": "swapped deliveries", "history": "history-reorder.jsonl", "model": "queue", "want": "violation",
         "kinds": ["reorder"]},
        {"name": "swapped deliveries within a window", "history": "history-reorder.jsonl", "model": "queue",
         "options": {"reorder_window": 3}, "want": "ok"},
    ])


def setfull():
    r = random.Random(4)
    ops, present, t = [], [], 1_000_000
    for i in range(300):
        x = t + i * 1000
        inv, cmp = x - r.randint(1, 400), x + r.randint(1, 400)
        if r.random() < 0.6:
            present.append(i)
            ops.append(row("add-%d" % i, "c%d" % r.randint(0, 2), inv, cmp, "add", inp=i))
        else:
            ops.append(row("read-%d" % i, "r%d" % r.randint(0, 1), inv, cmp, "read", out=sorted(present)))
    x = t + 400 * 1000  # the final read, once everything has settled
    ops.append(row("read-final", "r0", x, x + 500, "read", out=sorted(present)))
    write("set", "history.jsonl", ops)
    bad = [dict(o) for o in ops]
    victim = bad[[i for i, o in enumerate(bad) if o["op_type"] == "add"][20]]["input"]
    first = None
    for i, o in enumerate(bad):
        if o["op_type"] == "read" and victim in o["output"]:
            if first is None:
                first = i
            elif i > first + 30:
                bad[i] = dict(o, output=[e for e in o["output"] if e != victim])
    write("set", "history-lost.jsonl", bad)
    cases("set", [
        {"name": "clean", "checker": "set", "history": "history.jsonl", "model": "set", "want": "ok"},
        {"name": "clean, full", "checker": "set-full", "history": "history.jsonl", "model": "set", "want": "ok"},
        {"name": "lost", "checker": "set", "history": "history-lost.jsonl", "model": "set", "want": "violation", "kinds": ["lost"]},
        {"name": "lost, full", "checker": "set-full", "history": "history-lost.jsonl", "model": "set", "want": "violation", "kinds": ["lost"]},
    ])


def mutex():
    r = random.Random(5)
    ops, t, holder = [], 1_000_000, None
    x = t
    for i in range(120):
        p = "p%d" % r.randint(0, 3)
        x += 1000
        ops.append(row("acq-%d" % i, p, x - 300, x + 10, "acquire", key="lock"))
        for j in range(r.randint(0, 2)):  # others try and fail meanwhile
            q = "p%d" % r.randint(0, 3)
            if q != p:
                ops.append(row("try-%d-%d" % (i, j), q, x + 20, x + 60, "acquire", key="lock", err="held"))
        x += 500
        ops.append(row("rel-%d" % i, p, x, x + 200, "release", key="lock"))
    write("mutex", "history.jsonl", ops)
    bad = [dict(o) for o in ops]
    k = next(i for i, o in enumerate(bad) if o["op_id"].startswith("try-") and o["op_id"].split("-")[1] == "60")
    bad[k] = dict(bad[k], error=None)
    # ...and lets go of it before p does: one overlap, not a chain.
    bad.insert(k + 1, row("rel-intruder", bad[k]["process_id"], bad[k]["complete_ts"] + 10, bad[k]["complete_ts"] + 20, "release", key="lock"))
    write("mutex", "history-overlap.jsonl", bad)
    cases("mutex", [
        {"name": "clean", "history": "history.jsonl", "model": "lock", "want": "ok"},
        {"name": "a second holder", "history": "history-overlap.jsonl", "model": "lock", "want": "violation",
         "kinds": ["overlapping-holders"], "ops": ["acq-60", bad[k]["op_id"], "rel-60"]},
    ])


def states():
    write_json("invariant", "bank-ok.json", {"balances": {"alice": 40, "bob": -15, "carol": -25}, "accounts": 3})
    write_json("invariant", "bank-bad.json", {"balances": {"alice": 40, "bob": -15, "carol": -20}, "accounts": 3})
    pred = {"quiescent": True, "predicate": "sum(balances) == 0 && size(balances) == accounts"}
    cases("invariant", [
        {"name": "conserved", "model": "ledger", "states": [{"kind": "final-state", "name": "bank", "file": "bank-ok.json"}], "options": pred, "want": "ok"},
        {"name": "money created", "model": "ledger", "states": [{"kind": "final-state", "name": "bank", "file": "bank-bad.json"}], "options": pred,
         "want": "violation", "kinds": ["invariant-violated"]},
        {"name": "quiescence undefined", "model": "ledger", "states": [{"kind": "final-state", "name": "bank", "file": "bank-bad.json"}],
         "options": {"predicate": pred["predicate"]}, "want": "unknown"},
    ])
    members = [{"node": "n%d" % i, "state": "up", "incarnation": 3} for i in range(1, 6)]
    for i in (1, 2, 3):
        write_json("reconciliation", "n%d.json" % i, members[::-1] if i == 2 else members)
    lag = [dict(m) for m in members]
    lag[4]["state"] = "suspect"
    write_json("reconciliation", "n3-diverged.json", lag)
    rep = lambda third: [{"kind": "replica-state", "name": "n1", "file": "n1.json"}, {"kind": "replica-state", "name": "n2", "file": "n2.json"},
                         {"kind": "replica-state", "name": "n3", "file": third}]
    cases("reconciliation", [
        {"name": "agree", "model": "membership-table", "states": rep("n3.json"), "options": {"converged": True, "id_field": "node"}, "want": "ok"},
        {"name": "n3 diverged", "model": "membership-table", "states": rep("n3-diverged.json"), "options": {"converged": True, "id_field": "node"},
         "want": "violation", "kinds": ["replica-divergence"]},
        {"name": "before convergence", "model": "membership-table", "states": rep("n3-diverged.json"), "options": {"id_field": "node"}, "want": "unknown"},
    ])
    a = {"orders": [{"id": 1, "total": 10, "updated_at": "t1"}], "meta": {"snapshot_at": "t1"}}
    b = {"orders": [{"id": 1, "total": 10, "updated_at": "t1"}, {"id": 2, "total": 7, "updated_at": "t2"}], "meta": {"snapshot_at": "t2"}}
    ok = {"orders": [{"id": 1, "total": 10, "updated_at": "t1"}, {"id": 2, "total": 7, "updated_at": "t9"}], "meta": {"snapshot_at": "t9"}}
    bad = {"orders": [{"id": 1, "total": 10, "updated_at": "t1"}, {"id": 2, "total": 7.5, "updated_at": "t9"}], "meta": {"snapshot_at": "t9"}}
    for n, v in (("A.json", a), ("B.json", b), ("replay-ok.json", ok), ("replay-bad.json", bad)):
        write_json("replay", n, v)
    snaps = lambda r: [{"kind": "snapshot", "name": "A", "file": "A.json"}, {"kind": "snapshot", "name": "B", "file": "B.json"},
                       {"kind": "snapshot", "name": "replay", "file": r}]
    ign = {"ignore_fields": ["$.meta.snapshot_at", "$.orders[*].updated_at"]}
    cases("replay", [
        {"name": "equivalent modulo timestamps", "model": "log", "states": snaps("replay-ok.json"), "options": ign, "want": "ok"},
        {"name": "timestamps undeclared", "model": "log", "states": snaps("replay-ok.json"), "want": "violation", "kinds": ["replay-divergence"]},
        {"name": "total differs", "model": "log", "states": snaps("replay-bad.json"), "options": ign, "want": "violation", "kinds": ["replay-divergence"]},
    ])


def metrics():
    r = random.Random(6)
    def run(slow):
        g = {}
        for name in ("tenant-a", "tenant-b", "tenant-c"):
            # tenant-c is small: under 1 % of the requests, so the aggregate
            # p99 does not see it.
            lat = [round(r.gauss(20, 3), 2) for _ in range(30 if name == "tenant-c" else 2000)]
            if slow and name == "tenant-c":
                lat = [round(v * 2.5, 2) for v in lat]
            g[name] = {"latency_ms": lat, "throughput": [round(r.gauss(100, 5), 1) for _ in range(10)],
                       "requests": 400, "errors": 3 if slow and name == "tenant-c" else 0}
        return {"groups": g}
    write_json("fairness", "run-fair.json", run(False))
    write_json("fairness", "run-unfair.json", run(True))
    st = lambda f: [{"kind": "metric-series", "name": "run", "file": f}]
    p99 = {"formula": "worst_group_p99 / aggregate_p99 <= 1.5"}
    cases("fairness", [
        {"name": "fair", "model": "other", "states": st("run-fair.json"), "options": p99, "want": "ok"},
        {"name": "one tenant slow", "model": "other", "states": st("run-unfair.json"), "options": p99, "want": "violation", "kinds": ["unfair"]},
        {"name": "errors in one group", "model": "other", "states": st("run-unfair.json"), "options": {"formula": "error_rate_by_group == 0"},
         "want": "violation", "kinds": ["unfair"]},
        {"name": "no errors", "model": "other", "states": st("run-fair.json"), "options": {"formula": "error_rate_by_group == 0"}, "want": "ok"},
    ])
    series = [[1_000_000_000 * i, round(r.gauss(80, 6), 1)] for i in range(60)]
    write_json("slo", "p99-ok.json", {"metric": "p99_ms", "samples": series})
    spiky = [list(s) for s in series]
    spiky[42][1] = 180.0
    write_json("slo", "p99-spike.json", {"metric": "p99_ms", "samples": spiky})
    opts = {"metric": "p99_ms", "threshold": 120, "threshold_source": "SLO: checkout p99 < 120 ms"}
    cases("slo", [
        {"name": "within", "model": "other", "states": [{"kind": "metric-series", "name": "p99", "file": "p99-ok.json"}], "options": opts, "want": "ok"},
        {"name": "spike", "model": "other", "states": [{"kind": "metric-series", "name": "p99", "file": "p99-spike.json"}], "options": opts,
         "want": "violation", "kinds": ["slo-breach"]},
        {"name": "spike outside the window", "model": "other", "states": [{"kind": "metric-series", "name": "p99", "file": "p99-spike.json"}],
         "options": dict(opts, window=[0, 40_000_000_000]), "want": "ok"},
    ])
    base = [round(r.gauss(50, 1.5), 2) for _ in range(8)]
    same = [round(r.gauss(50, 1.5), 2) for _ in range(8)]
    worse = [round(r.gauss(58, 1.5), 2) for _ in range(8)]
    write_json("baseline", "baseline.json", {"runs": base})
    write_json("baseline", "candidate-same.json", {"runs": same})
    write_json("baseline", "candidate-worse.json", {"runs": worse})
    arms = lambda c: [{"kind": "metric-series", "name": "baseline", "file": "baseline.json"}, {"kind": "metric-series", "name": "candidate", "file": c}]
    cases("baseline", [
        {"name": "no regression", "model": "other", "states": arms("candidate-same.json"), "options": {"threshold": 0.1}, "want": "ok"},
        {"name": "regression", "model": "other", "states": arms("candidate-worse.json"), "options": {"threshold": 0.1}, "want": "violation",
         "kinds": ["regression"]},
    ])


if __name__ == "__main__":
    counter()
    monotonic()
    session()
    prefix()
    setfull()
    mutex()
    states()
    metrics()
