#!/usr/bin/env python3
"""The benchmark suite: runs every benchmark of BENCHMARKS.md and writes it.

    python3 scripts/bench/run.py [--runs 3] [--max-rooms 10000000] [--breakdown-rooms 1000000] [--criterion] [--out BENCHMARKS.md]

Run through scripts/bench.sh, which builds what it needs first. Each figure
is the median of --runs runs (the machine is noisy: the browser runs of
allot and of the plain-JS baseline alternate, so they share its weather).
Writes BENCHMARKS.md and the plots docs/bench/scale.svg and
docs/bench/browser.svg. Nothing here asserts a speed: it measures.
"""

import argparse
import datetime
import gzip
import math
import os
import platform
import re
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ALLOT = os.path.join(ROOT, "target", "release", "allot")


def log(msg):
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def parse(line):
    """`name k=v ...` -> (name, {k: float})."""
    name, *kv = line.split()
    out = {}
    for p in kv:
        k, _, v = p.partition("=")
        try:
            out[k] = float(v)
        except ValueError:
            out[k] = v
    return name, out


def run(cmd, want):
    """Runs cmd, returns the parsed last stdout line starting with `want`."""
    shown = " ".join(cmd)
    log(shown)
    p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=1800)
    lines = [l for l in p.stdout.splitlines() if l.startswith(want)]
    if p.returncode != 0 or not lines:
        raise SystemExit(f"failed ({p.returncode}): {shown}\n{p.stdout[-2000:]}\n{p.stderr[-2000:]}")
    out = parse(lines[-1])[1]
    m = re.search(r"rss_kb=(\d+)", p.stderr)  # /usr/bin/time writes to stderr
    if m:
        out["rss_kb"] = float(m.group(1))
    return out


def median(runs, key):
    return statistics.median(r[key] for r in runs)


def native_median(w):
    """The median of every native sample of a wasm_vs_native result."""
    return median([r for n in w["native"] for r in n], "wall_secs")


def peak_rss_kb(runs):
    """The median peak RSS of runs, 0 where /usr/bin/time did not report it."""
    return median(runs, "rss_kb") if all("rss_kb" in r for r in runs) else 0


def rel(cmd):
    return " ".join(c.replace(ROOT + "/", "") for c in cmd)


def machine_gib():
    try:
        return int(open("/proc/meminfo").readline().split()[1]) / 1024 / 1024
    except (OSError, ValueError, IndexError):
        return 0.0


def machine():
    cpu = "unknown CPU"
    try:
        for l in open("/proc/cpuinfo"):
            if l.startswith("model name"):
                cpu = l.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gib = machine_gib()
    mem = f", {gib:.0f} GiB" if gib else ""
    chromium = subprocess.run(["chromium", "--version"], capture_output=True, text=True).stdout.strip()
    rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
    node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    return f"{cpu}, {os.cpu_count()} cores{mem}; {platform.system()} {platform.release()}; {rustc}; Node {node}; {chromium}"


# ---------------------------------------------------------------- plots (SVG)

def svg_scale(points, path):
    """Log-log plot of booking time against n, with an n log n guide."""
    w, h, m = 640, 400, 60
    xs = [math.log10(n) for n, _ in points]
    ys = [math.log10(max(t, 1e-4)) for _, t in points]
    n0, t0 = points[0]
    guide = [(n, t0 * (n * math.log2(n)) / (n0 * math.log2(n0))) for n, _ in points]
    ys_all = ys + [math.log10(t) for _, t in guide]
    x0, x1 = min(xs), max(xs) if max(xs) > min(xs) else min(xs) + 1
    y0, y1 = math.floor(min(ys_all)), math.ceil(max(ys_all))
    if y1 == y0:
        y1 += 1
    X = lambda v: m + (v - x0) / (x1 - x0) * (w - 2 * m)
    Y = lambda v: h - m - (v - y0) / (y1 - y0) * (h - 2 * m)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">',
           f'<rect width="{w}" height="{h}" fill="white"/>',
           f'<text x="{w/2}" y="20" text-anchor="middle" font-size="14">Native holiday rush, 16 threads, in-memory store: booking phase</text>']
    for e in range(int(y0), int(y1) + 1):
        out.append(f'<line x1="{m}" x2="{w-m}" y1="{Y(e)}" y2="{Y(e)}" stroke="#ddd"/>'
                   f'<text x="{m-6}" y="{Y(e)+4}" text-anchor="end">{10**e:g} s</text>')
    for n, _ in points:
        v = math.log10(n)
        out.append(f'<text x="{X(v)}" y="{h-m+18}" text-anchor="middle">{n:.0e}</text>')
    out.append(f'<text x="{w/2}" y="{h-15}" text-anchor="middle">rooms = sessions</text>')
    g = " ".join(f"{X(math.log10(n))},{Y(math.log10(t))}" for n, t in guide)
    out.append(f'<polyline points="{g}" fill="none" stroke="#999" stroke-dasharray="5,4"/>')
    d = " ".join(f"{X(x)},{Y(y)}" for x, y in zip(xs, ys))
    out.append(f'<polyline points="{d}" fill="none" stroke="#1f6feb" stroke-width="2"/>')
    for (n, t), x, y in zip(points, xs, ys):
        out.append(f'<circle cx="{X(x)}" cy="{Y(y)}" r="4" fill="#1f6feb"/>'
                   f'<text x="{X(x)+6}" y="{Y(y)-8}">{t:.3g} s</text>')
    out.append(f'<text x="{w-m}" y="{m}" text-anchor="end" fill="#999">dashed: n log n from the first point</text>')
    out.append("</svg>")
    open(path, "w").write("\n".join(out))


def svg_bars(bars, title, path):
    """Horizontal bars: [(label, seconds, colour)]."""
    w, row, m = 680, 44, 230
    h = 60 + row * len(bars)
    top = max(t for _, t, _ in bars) or 1
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">',
           f'<rect width="{w}" height="{h}" fill="white"/>',
           f'<text x="{w/2}" y="22" text-anchor="middle" font-size="14">{title}</text>']
    for i, (label, t, colour) in enumerate(bars):
        y = 40 + i * row
        bw = (w - m - 80) * t / top
        out.append(f'<text x="{m-8}" y="{y+20}" text-anchor="end">{label}</text>'
                   f'<rect x="{m}" y="{y+6}" width="{bw:.1f}" height="22" fill="{colour}"/>'
                   f'<text x="{m+bw+6:.1f}" y="{y+21}">{t:.3f} s</text>')
    out.append("</svg>")
    open(path, "w").write("\n".join(out))


# ---------------------------------------------------------------- benchmarks

def browser(runs):
    allot_cmd = [os.path.join(ROOT, "demo/run.sh"), "headless", "--scenario", "holiday", "--hotels", "20", "--rooms", "50",
                 "--sessions", "1000", "--workers", "16"]
    base_cmd = [os.path.join(ROOT, "demo/baseline/run.sh"), "--hotels", "20", "--rooms", "50", "--sessions", "1000",
                "--workers", "16"]
    storm_cmd = [os.path.join(ROOT, "demo/run.sh"), "headless", "--scenario", "last-room"]
    cold_cmd = allot_cmd + ["--cold", "1"]
    # What one page sees: one worker, one `book_any` at a time.
    one_cmd = [os.path.join(ROOT, "demo/run.sh"), "headless", "--scenario", "holiday", "--hotels", "4", "--rooms", "50",
               "--sessions", "200", "--workers", "1", "--batch", "1"]
    a, b, s, c, o = [], [], [], [], []
    for _ in range(runs):
        a.append(run(allot_cmd, "holiday_rush_done"))
        b.append(run(base_cmd, "plain_js_holiday_done"))
        s.append(run(storm_cmd, "last_room_done"))
        c.append(run(cold_cmd, "holiday_rush_done"))
        o.append(run(one_cmd, "holiday_rush_done"))
    for r in a + c:
        assert r["booked"] == r["verified_booked"] == 1000 and r["double_booked"] == 0, r
    for r in b:
        assert r["booked"] == r["verified_booked"] == 1000 and r["double_booked"] == 0, r
    for r in o:
        assert r["booked"] == r["verified_booked"] == 200 and r["double_booked"] == 0, r
    return {"allot": a, "base": b, "storm": s, "cold": c, "one": o, "allot_cmd": rel(allot_cmd),
            "base_cmd": rel(base_cmd), "storm_cmd": rel(storm_cmd), "cold_cmd": rel(cold_cmd), "one_cmd": rel(one_cmd)}


def holiday_cmd(rooms, sessions, workers, batch):
    """The native in-memory holiday rush, rooms in hotels of 50."""
    return [ALLOT, "holiday", "--hotels", str(rooms // 50), "--rooms-per-hotel", "50", "--sessions", str(sessions),
            "--workers", str(workers), "--batch", str(batch)]


def mem_available_kb():
    for line in open("/proc/meminfo"):
        if line.startswith("MemAvailable:"):
            return int(line.split()[1])
    return 0


# Above this share of the memory available, a size is not run: the next
# size's peak is predicted from the last one's, linearly, and a run that
# does not fit would end in the kernel's OOM killer. (Linear overestimates
# a little: the tables sized up front cost less per room at 10M than at 1M.)
MEM_SHARE_MAX = 0.95
# Native samples per run in the wasm-vs-native comparison (see there).
NATIVE_SAMPLES_PER_RUN = 3


def scale(runs, max_rooms):
    """The scale curve, and why it stopped short of max_rooms (None if not)."""
    out = []
    n = 1000
    while n <= max_rooms:
        last_rss = peak_rss_kb(out[-1]["runs"]) if out else 0
        if last_rss:
            want = last_rss * n / out[-1]["n"]
            have = mem_available_kb()
            if want > MEM_SHARE_MAX * have:
                return out, (f"{n:,} was not run: its peak memory, scaled linearly from {last_rss / 2**20:.2f} GiB at "
                             f"{out[-1]['n']:,}, would be about {want / 2**20:.1f} GiB, with {have / 2**20:.1f} GiB "
                             "available here")
        cmd = holiday_cmd(n, n, 16, 16)
        rs = [run(["/usr/bin/time", "-f", "rss_kb=%M"] + cmd, "holiday_rush_done") for _ in range(runs)]
        for r in rs:
            assert r["booked"] == r["verified_booked"] == n and r["double_booked"] == 0, r
        out.append({"n": n, "runs": rs, "cmd": rel(cmd)})
        n *= 10
    return out, None


def breakdown(runs, n):
    """Where the time of the largest native run goes, beside it in the same
    benchmark: the same rooms with 1% fewer sessions (the range never sells
    out: no search for its last free rooms), and all sessions on 2 workers
    (one per core) instead of 16, and all sessions on 16 workers with one
    booking per call (batch 1) instead of 16."""
    out = {}
    for name, sessions, workers, batch in (("short", n * 99 // 100, 16, 16), ("two", n, 2, 16), ("one", n, 16, 1)):
        cmd = holiday_cmd(n, sessions, workers, batch)
        rs = [run(cmd, "holiday_rush_done") for _ in range(runs)]
        for r in rs:
            assert r["booked"] == r["verified_booked"] == sessions and r["double_booked"] == 0, r
        out[name] = {"runs": rs, "cmd": rel(cmd), "sessions": sessions}
    return out


def wasm_vs_native(runs, n, batch=1):
    """Node cold (the first rush of the process: V8 compiles the wasm with its
    baseline tier and tiers hot functions up while the clock runs), Node
    warm (one untimed rehearsal first, as the browser workers do), native."""
    node_cmd = ["node", os.path.join(ROOT, "scripts/bench/node-holiday.mjs"), "--rooms", str(n), "--sessions", str(n),
                "--workers", "1", "--batch", str(batch)]
    warm_cmd = node_cmd + ["--warmup", "1"]
    nat_cmd = holiday_cmd(n, n, 1, batch)
    w, warm, nat = [], [], []
    for _ in range(runs):
        w.append(run(node_cmd, "node_holiday_done"))
        warm.append(run(warm_cmd, "node_holiday_done"))
        # Native several times per round: its 10,000-room run lasts about
        # 40 ms and one hiccup of the machine can make that 70, so the ratio
        # divides by the median of all these samples, which one hiccup does
        # not move. (Each costs well under a second.)
        nat.append([run(nat_cmd, "holiday_rush_done") for _ in range(NATIVE_SAMPLES_PER_RUN)])
    return {"node": w, "warm": warm, "native": nat, "node_cmd": rel(node_cmd), "warm_cmd": rel(warm_cmd),
            "native_cmd": rel(nat_cmd), "n": n}


def postgres(runs):
    """The holiday rush on PostgreSQL, when scripts/bench.sh started a
    throwaway server (ALLOT_PG_URL); None otherwise."""
    url = os.environ.get("ALLOT_PG_URL")
    if not url:
        return None
    cases = [
        ("1,000 rooms, all eligible, batch 1", []),
        ("1,000 rooms, all eligible, batch 16", ["--batch", "16"]),
        ("232 of 1,000 rooms eligible (768 sessions told sold out), batch 1", ["--price-max", "999999999"]),
        ("232 of 1,000 rooms eligible, batch 16", ["--price-max", "999999999", "--batch", "16"]),
    ]
    out = []
    for label, extra in cases:
        cmd = [ALLOT, "holiday", "--store", url, "--hotels", "20", "--rooms-per-hotel", "50", "--sessions", "1000",
               "--workers", "16"] + extra
        rs = [run(cmd, "holiday_rush_done") for _ in range(runs)]
        for r in rs:
            assert r["booked"] == r["verified_booked"] and r["double_booked"] == 0 and r["failed_sessions"] == 0, r
        out.append({"label": label, "runs": rs, "cmd": rel(cmd).replace(url, '"$ALLOT_PG_URL"')})
    return out


def size():
    path = os.path.join(ROOT, "web/pkg/web/allot_web_bg.wasm")
    raw = open(path, "rb").read()
    return {"raw": len(raw), "gzip": len(gzip.compress(raw, 9)), "path": "web/pkg/web/allot_web_bg.wasm"}


def criterion():
    cmd = ["cargo", "bench", "-p", "allot-core", "--benches", "--", "--warm-up-time", "1",
           "--measurement-time", "3"]
    log(" ".join(cmd))
    p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=3600)
    if p.returncode != 0:
        raise SystemExit(f"cargo bench failed\n{p.stderr[-3000:]}")
    rows, name = [], None
    for l in p.stdout.splitlines():
        m = re.match(r"^(\S.*?)\s+time:\s+\[(.*?)\]", l)
        if m:
            rows.append((m.group(1).strip(), m.group(2).split()[2] + " " + m.group(2).split()[3]))
            continue
        m2 = re.match(r"^(\S+(?:/\S+)*)\s*$", l)
        if m2:
            name = m2.group(1)
        m3 = re.match(r"^\s+time:\s+\[(.*?)\]", l)
        if m3 and name:
            parts = m3.group(1).split()
            rows.append((name, parts[2] + " " + parts[3]))
    return {"rows": rows, "cmd": " ".join(cmd)}


# ---------------------------------------------------------------- report

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--max-rooms", type=int, default=10_000_000)
    # The breakdown runs three more configurations beside one row of the
    # scale curve: at 10M each run takes minutes.
    ap.add_argument("--breakdown-rooms", type=int, default=1_000_000)
    ap.add_argument("--wasm-rooms", type=int, default=10_000)
    ap.add_argument("--criterion", action="store_true")
    ap.add_argument("--out", default=os.path.join(ROOT, "BENCHMARKS.md"))
    a = ap.parse_args()
    started = time.time()
    date = datetime.date.today().isoformat()
    b = browser(a.runs)
    w = wasm_vs_native(a.runs, a.wasm_rooms)
    # The same with a batch of 16 on both sides: one call into the wasm per
    # 16 bookings, so what remains is the core's own speed in wasm.
    w16 = wasm_vs_native(a.runs, a.wasm_rooms, 16)
    # The same at ten times the size: native's 10,000-room run takes 40-60
    # ms and swings by half between runs, which the ratio inherits; here
    # both sides run for a while. (The target row stays at --wasm-rooms.)
    w100 = wasm_vs_native(a.runs, a.wasm_rooms * 10)
    sc, sc_stopped = scale(a.runs, a.max_rooms)
    bd_row = ([s for s in sc if s["n"] <= a.breakdown_rooms] or [None])[-1]
    bd = breakdown(a.runs, bd_row["n"]) if bd_row else None
    pg = postgres(a.runs)
    sz = size()
    cr = criterion() if a.criterion else None

    os.makedirs(os.path.join(ROOT, "docs/bench"), exist_ok=True)
    points = [(s["n"], median(s["runs"], "wall_secs")) for s in sc]
    svg_scale(points, os.path.join(ROOT, "docs/bench/scale.svg"))
    am, bm = median(b["allot"], "wall_secs"), median(b["base"], "wall_secs")
    svg_bars([("allot (16 workers)", am, "#1f6feb"),
              ("allot, cold caches (16 workers)", median(b["cold"], "wall_secs"), "#6e9ee8"),
              ("plain JS baseline (16 workers)", bm, "#d29922")],
             "Browser holiday rush, 1000 rooms / 1000 sessions, IndexedDB: booking phase",
             os.path.join(ROOT, "docs/bench/browser.svg"))
    sm = median(b["storm"], "wall_secs")
    wm, nm = median(w["node"], "wall_secs"), native_median(w)
    ww = median(w["warm"], "wall_secs")

    L = []
    L.append("# Benchmarks\n")
    L.append(f"Written by `scripts/bench.sh --runs {a.runs}` on {date} (took {(time.time() - started) / 60:.0f} min). "
             "Every figure is the median of the runs; each run's figure is in the tables. "
             "Nothing here is asserted by a test: these are measurements.\n")
    L.append(f"**Machine:** {machine()}.\n")
    L.append("## Against the targets\n")
    L.append("| target | goal | measured (median) | met |")
    L.append("|---|---|---|---|")
    L.append(f"| browser holiday 1000/1000/16, IndexedDB | <= 0.4 s | {am:.3f} s | {'yes' if am <= 0.4 else 'no'} |")
    L.append(f"| speed-up over plain-JS IndexedDB, same run | >= 10x | {bm / am:.2f}x | {'yes' if bm / am >= 10 else 'no'} |")
    one_m = [t for n, t in points if n == 1_000_000]
    L.append(f"| native 1M/1M, 16 threads | <= 1 s | {('%.3f s' % one_m[0]) if one_m else 'not run'} | "
             f"{('yes' if one_m and one_m[0] <= 1 else 'no')} |")
    L.append(f"| wasm (Node, npm package) vs native, in-memory, {w['n']} rooms | <= 1.5x | {ww / nm:.2f}x warm, "
             f"{wm / nm:.2f}x cold | {'yes' if ww / nm <= 1.5 else 'no'} |")
    L.append(f"| package wasm, gzip -9 | <= 100 KB | {sz['gzip'] / 1000:.0f} KB | {'yes' if sz['gzip'] <= 100_000 else 'no'} |")
    L.append(f"| last-room storm, 50 sessions / 1 room, browser | exactly 1 booked, <= 100 ms | "
             f"booked={int(b['storm'][0]['booked'])}, {sm * 1000:.0f} ms | {'yes' if sm <= 0.1 else 'no'} |")
    L.append("")
    L.append("## Browser holiday rush (IndexedDB, headless Chromium)\n")
    L.append("![allot vs the plain-JS baseline](docs/bench/browser.svg)\n")
    L.append(f"- allot: `{b['allot_cmd']}` (the demo's defaults: window 512, batch 64, durability relaxed). "
             "The clock runs from `Go` to the last worker's `Done`; before it, untimed, each worker opens its "
             "connection, rehearses its share six times on in-memory stores of its own, through the same "
             "compiled booking code as the race (so that V8 has compiled and optimised it), and loads its "
             "client's cache from IndexedDB (`Allot::sync`, as a page does when it opens; demo/src/bin/worker.rs). The race reads what changed since, inside each readwrite transaction.")
    L.append(f"- allot, cold: `{b['cold_cmd']}`: the same without the load; the race starts from empty caches "
             "and reads everything from IndexedDB.")
    L.append(f"- plain JS: `{b['base_cmd']}` (demo/baseline/: one readwrite transaction per booking, "
             "append-expect on a per-room seq, no allot; each worker reads the room list when it opens, before "
             "the clock)")
    L.append(f"- last-room storm: `{b['storm_cmd']}`\n")
    L.append("| run | allot wall_secs | allot conflicts | allot read_queries | allot cold wall_secs | plain JS wall_secs | plain JS conflicts | last room wall_secs |")
    L.append("|---|---|---|---|---|---|---|---|")
    for i, (x, y, z, k) in enumerate(zip(b["allot"], b["base"], b["storm"], b["cold"])):
        L.append(f"| {i + 1} | {x['wall_secs']:.3f} | {int(x['conflicts'])} | {int(x['read_queries'])} | "
                 f"{k['wall_secs']:.3f} | {y['wall_secs']:.3f} | {int(y['conflicts'])} | {z['wall_secs']:.3f} |")
    L.append("")
    L.append(f"Medians: allot {am:.3f} s, allot cold {median(b['cold'], 'wall_secs'):.3f} s, plain JS {bm:.3f} s, "
             f"last room {sm:.3f} s.\n")
    L.append("Every holiday run above (allot, cold or not, and plain JS) booked 1000 rooms, recounted 1000 from a "
             "fresh connection, with 0 double bookings.\n")
    om = median(b["one"], "wall_secs")
    L.append("### One booking at a time\n")
    L.append(f"`{b['one_cmd']}`: one worker (its cache loaded before the clock) books 200 sessions with one "
             "`book_any` each, one after another, as a page does for its user. Not a target; the latency of a "
             f"single booking. Median {om:.3f} s, {om / 200 * 1000:.1f} ms per booking "
             f"(runs: {', '.join('%.3f' % r['wall_secs'] for r in b['one'])}; every run booked and recounted 200).\n")
    L.append("## Native scale (in-memory store, 16 threads, batch 16)\n")
    L.append("![scale curve](docs/bench/scale.svg)\n")
    L.append("`target/release/allot` is built by `cargo build --release -p allot-tests` with the workspace's "
             "release profile: `lto = \"fat\"`, `codegen-units = 1`, for any x86-64 (no `target-cpu`).\n")
    L.append("| rooms = sessions | median wall_secs | runs | growth from the row above (n log n would be) "
             "| peak RSS | conflicts (median) | index reads (median) | command |")
    L.append("|---|---|---|---|---|---|---|---|")
    prev = None
    for s in sc:
        rss = peak_rss_kb(s["runs"])
        t = median(s["runs"], "wall_secs")
        growth = "-"
        if prev:
            nlogn = s["n"] * math.log2(s["n"]) / (prev[0] * math.log2(prev[0]))
            growth = f"{t / prev[1]:.1f}x ({nlogn:.1f}x)"
        prev = (s["n"], t)
        L.append(f"| {s['n']:,} | {t:.3f} | "
                 f"{', '.join('%.3f' % r['wall_secs'] for r in s['runs'])} | {growth} | {rss / 1024:.0f} MiB | "
                 f"{median(s['runs'], 'conflicts'):.0f} | {median(s['runs'], 'read_queries'):,.0f} | `{s['cmd']}` |")
    if bd:
        top = bd_row
        L.append(f"\n### Where the {top['n']:,}-room time goes\n")
        L.append("The same rooms, run beside their row in the scale table. With 1% fewer sessions the range never sells out, so no "
                 "booker has to search it for its last free rooms; with 2 workers there is one per core; with batch 1 each "
                 "session is one `book_any` call, as a server booking for one user at a time makes it.\n")
        L.append("| run | median wall_secs | runs | index reads (median) | command |")
        L.append("|---|---|---|---|---|")
        rows = [(f"{top['n']:,} sessions, 16 workers (its row in the scale table)", top),
                (f"{bd['short']['sessions']:,} sessions, 16 workers", bd["short"]),
                (f"{top['n']:,} sessions, 2 workers", bd["two"]),
                (f"{top['n']:,} sessions, 16 workers, one `book_any` per session (batch 1)", bd["one"])]
        for label, x in rows:
            L.append(f"| {label} | {median(x['runs'], 'wall_secs'):.3f} | "
                     f"{', '.join('%.3f' % r['wall_secs'] for r in x['runs'])} | "
                     f"{median(x['runs'], 'read_queries'):,.0f} | `{x['cmd']}` |")
        L.append("\nEach booker learns that a room is taken by reading it, or from the in-memory store's untouched "
                 "rooms (those never booked, `Store::read_untouched_window`): a booker that finds a window wholly "
                 "taken walks those before it reads on. Near the end of the rush the last free rooms lie in a few "
                 "stretches; without the untouched rooms a booker whose stretch ran out walked the index window by "
                 "window until it found another, and the time swung with where the last stretches lay. The reads "
                 "that check the untouched rooms drop each booked room from them once, which is most of what two "
                 "workers pay for it. A single `book_any` walks them the same way; before it did, one booking at a "
                 "time on 16 threads read the rooms the other 15 had taken and took about three times as long "
                 "(ARCHITECTURE.md, \"What the store now says\").")
    if sc_stopped:
        L.append(f"\n{sc_stopped}; `scripts/bench.sh --max-rooms 10000000` runs it where it fits.")
    L.append("")
    L.append(f"## wasm (npm package in Node) vs native, in-memory, {w['n']:,} rooms and sessions, one booker\n")
    L.append(f"- wasm, cold: `{w['node_cmd']}`: the process's first rush; V8 compiles the wasm with its baseline "
             "tier and tiers hot functions up while the clock runs.")
    L.append(f"- wasm, warm: `{w['warm_cmd']}`: the same after one untimed rehearsal on a database of its own "
             "(as each browser worker rehearses before `Go`), so that the optimising tier has compiled what the "
             "rush runs. The native build is compiled ahead of time; this is the like-for-like figure.")
    L.append(f"- native: `{w['native_cmd']}`")
    L.append("- The package's Node build (`web/pkg/node/`) is compiled for speed (profile `wasm-node`, "
             "`opt-level = 3`), its browser build for size (ARCHITECTURE.md, \"Why the browser's wasm is built "
             "for size and Node's for speed\").\n")

    def node_table(x):
        L.append(f"| run | Node cold wall_secs | Node warm wall_secs | native wall_secs ({NATIVE_SAMPLES_PER_RUN} runs) |")
        L.append("|---|---|---|---|")
        for i, (c, h, n) in enumerate(zip(x["node"], x["warm"], x["native"])):
            ns = ", ".join(f"{r['wall_secs']:.3f}" for r in n)
            L.append(f"| {i + 1} | {c['wall_secs']:.3f} | {h['wall_secs']:.3f} | {ns} |")
        cm, hm = (median(x[k], "wall_secs") for k in ("node", "warm"))
        nm_ = native_median(x)
        L.append(f"\nRatio of medians: {hm / nm_:.2f}x warm, {cm / nm_:.2f}x cold.\n")

    node_table(w)
    L.append("The same with `--batch 16` on both sides (`bookAnyMany` / `book_any_many`, 16 bookings per call; "
             "commands as above with `--batch 16`):\n")
    node_table(w16)
    L.append(f"The same, one `bookAny` per booking, at {w100['n']:,} rooms and sessions (steadier: native's "
             f"{w['n']:,}-room run is short enough to swing by half between runs): "
             f"`{w100['warm_cmd']}` (and without `--warmup 1`) against `{w100['native_cmd']}`:\n")
    node_table(w100)
    L.append("## PostgreSQL (holiday rush, 16 workers, a throwaway server on loopback)\n")
    if pg:
        L.append("Not a target of the issue: the same core on the PostgreSQL store (`pg/`), against a fresh cluster "
                 "that `scripts/pg.sh` starts on 127.0.0.1 with its defaults (durable commits: each one waits for "
                 "its WAL flush).\n")
        L.append("| run | median wall_secs | runs | read_queries (median) | conflicts (median) | command |")
        L.append("|---|---|---|---|---|---|")
        for c in pg:
            L.append(f"| {c['label']} | {median(c['runs'], 'wall_secs'):.3f} | "
                     f"{', '.join('%.3f' % r['wall_secs'] for r in c['runs'])} | "
                     f"{median(c['runs'], 'read_queries'):.0f} | {median(c['runs'], 'conflicts'):.0f} | `{c['cmd']}` |")
        L.append("")
    else:
        L.append("Not run (no `ALLOT_PG_URL`: `scripts/bench.sh` runs it inside `scripts/pg.sh run`).\n")
    L.append("## Size\n")
    L.append(f"`{sz['path']}`, the browser build (built by `web/build.sh`, wasm-opt -Oz): {sz['raw']:,} bytes, "
             f"{sz['gzip']:,} bytes with gzip -9.\n")
    if cr:
        L.append("## criterion (hot paths)\n")
        L.append(f"`{cr['cmd']}` (median of criterion's estimate):\n")
        L.append("| bench | time |")
        L.append("|---|---|")
        for n_, t in cr["rows"]:
            L.append(f"| {n_} | {t} |")
        L.append("")
    else:
        L.append("## criterion (hot paths)\n")
        L.append("Not part of this run (`scripts/bench.sh --criterion` adds it); on their own: "
                 "`cargo bench -p allot-core` (codec, index window scan, append-expect, group commit decision).\n")
    open(a.out, "w").write("\n".join(L) + "\n")
    log(f"wrote {a.out}")


if __name__ == "__main__":
    main()
