"""The end-to-end benchmark behind scripts/bench-e2e (issue 15); run it through that script.

archive backfill: cts-emulator writes N traces as OBS-layout archives; `cts-exporter backfill --archive-dir`
sends them to neo4j-sink, which writes them into a Neo4j of its own, freshly started. API catch-up: a second
emulator serves M traces of the last two hours; `cts-exporter backfill --since` pulls them from the CTS API
into the same sink and Neo4j. Every SLICE seconds it prints the traces committed (counted in Neo4j) and the CPU
time each process spent; at the end of each phase the rate over the whole phase and CPU per trace of the
exporter, the sink, Neo4j's JVM and the emulator. Then it reads every trace id back and compares it with the
emulators' ground truth (exit 1 unless each is stored exactly once and no event was dead-lettered). Last, the
trace-graph writer bench runs on the archive's traces against a second fresh Neo4j data dir: the chain's
ceiling. docs/performance.md ("End to end") has the figures and how to read them.
"""

import argparse
import json
import os
import shlex
import signal
import subprocess
import sys
import time
import urllib.request

TICK = os.sysconf("SC_CLK_TCK")
CORES = os.cpu_count() or 1


def say(msg):
    print(f"==> {msg}", flush=True)


def info(msg):
    print(f"    {msg}", flush=True)


def die(msg):
    print(f"bench-e2e: {msg}", file=sys.stderr, flush=True)
    sys.exit(1)


def cpu_secs(pid):
    """User + system CPU seconds of a live process, all its threads (/proc/<pid>/stat)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            rest = f.read().rsplit(")", 1)[1].split()
        return (int(rest[11]) + int(rest[12])) / TICK
    except (OSError, IndexError, ValueError):
        return None


class Proc:
    """A child process with its output in DIR/<name>.log."""

    def __init__(self, name, argv, env, logdir):
        self.name = name
        self.log = os.path.join(logdir, f"{name}.log")
        with open(self.log, "w") as out:
            self.p = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL, start_new_session=True)
        self.pid = self.p.pid
        self.cpu_at_exit = None
        self.code = None

    def alive(self):
        """True while it runs; an exited process stays unreaped (WNOWAIT) so reap() gets its rusage."""
        if self.code is not None:
            return False
        return os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None

    def reap(self):
        """Waits for the process and keeps its CPU time (from wait4's rusage: all threads)."""
        if self.code is None:
            _, status, ru = os.wait4(self.pid, 0)
            self.code = os.waitstatus_to_exitcode(status)
            self.cpu_at_exit = ru.ru_utime + ru.ru_stime
            self.p.returncode = self.code
        return self.code

    def cpu(self):
        if self.code is not None:
            return self.cpu_at_exit
        return cpu_secs(self.pid)

    def stop(self, timeout=30):
        if self.code is not None:
            return
        try:
            os.kill(self.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        deadline = time.time() + timeout
        while time.time() < deadline:
            pid, status, ru = os.wait4(self.pid, os.WNOHANG)
            if pid:
                self.code = os.waitstatus_to_exitcode(status)
                self.cpu_at_exit = ru.ru_utime + ru.ru_stime
                self.p.returncode = self.code
                return
            time.sleep(0.1)
        os.kill(self.pid, signal.SIGKILL)
        self.reap()

    def tail(self, n=15):
        try:
            with open(self.log, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""


def wait_for(cond, secs, what, procs=()):
    deadline = time.time() + secs
    while time.time() < deadline:
        if cond():
            return
        for p in procs:
            if not p.alive():
                die(f"{p.name} exited (code {p.reap()}) while waiting for {what}; end of {p.log}:\n{p.tail()}")
        time.sleep(0.2)
    die(f"timed out after {secs} s waiting for {what}")


def log_has(proc, text):
    try:
        with open(proc.log, errors="replace") as f:
            return text in f.read()
    except OSError:
        return False


def extra_env(name):
    """KEY=VALUE words from an environment variable (shell quoting), for settings that pass through."""
    raw = os.environ.get(name, "")
    out = {}
    for word in shlex.split(raw):
        key, sep, value = word.partition("=")
        if not sep or not key:
            die(f"{name}: {word!r} is not KEY=VALUE; e.g. {name}='RUST_LOG=warn'")
        out[key] = value
    return out


class Neo4j:
    """A fresh Neo4j of the benchmark's own, through scripts/neo4j-local (its own port and data dir)."""

    def __init__(self, root, port, directory, heap, pagecache):
        self.root = root
        self.env = dict(os.environ, NEO4J_LOCAL_PORT=str(port), NEO4J_LOCAL_DIR=directory,
                        NEO4J_LOCAL_HEAP=heap, NEO4J_LOCAL_PAGECACHE=pagecache, NEO4J_LOCAL_TLS="0")
        self.dir = directory
        self.uri = self.user = self.password = None
        self.pid = None

    def tool(self, verb, check=True):
        r = subprocess.run([os.path.join(self.root, "scripts/neo4j-local"), verb], env=self.env,
                           capture_output=True, text=True)
        if check and r.returncode != 0:
            die(f"scripts/neo4j-local {verb} failed (exit {r.returncode}):\n{r.stdout}{r.stderr}")
        return r.stdout

    def start_fresh(self):
        self.tool("reset")          # stops it if running, deletes its data dir (ours alone)
        t0 = time.time()
        self.tool("start")
        for line in self.tool("env").splitlines():
            key, _, value = line.removeprefix("export ").partition("=")
            value = shlex.split(value)[0] if value else ""
            if key == "NEO4J_URI":
                self.uri = value
            elif key == "NEO4J_USER":
                self.user = value
            elif key == "NEO4J_PASSWORD":
                self.password = value
        with open(os.path.join(self.dir, "neo4j.pid")) as f:
            self.pid = int(f.read().strip())
        return time.time() - t0

    def cpu(self):
        return cpu_secs(self.pid)

    def wipe(self):
        self.tool("reset", check=False)


def metric_sum(url, name):
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            text = r.read().decode()
    except OSError:
        return None
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name):
            total += float(line.rsplit(" ", 1)[1])
    return total


class Phase:
    """One run of the exporter, monitored: slices of committed traces and CPU per process."""

    def __init__(self, name, expected, exporter, procs, neo4j, session, slice_secs, before, metrics_url):
        self.metrics_url = metrics_url
        self.name = name
        self.expected = expected
        self.exporter = exporter
        self.procs = procs           # name -> Proc (long-lived: sink, emulator)
        self.neo4j = neo4j
        self.session = session
        self.slice_secs = slice_secs
        self.before = before         # actions in Neo4j before the phase

    def count(self):
        return self.session.run("MATCH (a:Action) RETURN count(a) AS c").single()["c"] - self.before

    def cpu_now(self):
        c = {n: p.cpu() for n, p in self.procs.items()}
        c["neo4j"] = self.neo4j.cpu()
        c["exporter"] = self.exporter.cpu()
        return c

    def sink_metrics(self):
        return {k: metric_sum(self.metrics_url, k) or 0.0 for k in
                ("neo4j_sink_batch_size_sum", "neo4j_sink_batch_size_count", "neo4j_sink_write_duration_seconds_sum")}

    def run(self):
        m0 = self.sink_metrics()
        start_cpu = self.cpu_now()
        start_cpu["exporter"] = 0.0  # a new process
        t0 = time.time()
        last_t, last_n, last_cpu = t0, 0, dict(start_cpu)
        slices = []
        say(f"{self.name}: {self.expected:,} traces; a line every {self.slice_secs} s "
            f"(traces committed in Neo4j; CPU seconds in the slice; the exporter's log: {self.exporter.log})")
        next_tick = t0 + self.slice_secs
        while True:
            done = not self.exporter.alive()
            if done:
                self.exporter.reap()
            now = time.time()
            if now >= next_tick or done:
                n = self.count()
                cpu = self.cpu_now()
                dt = now - last_t
                if dt > 0.5 or done:
                    rate = (n - last_n) / dt if dt > 0 else 0.0
                    parts = ", ".join(f"{k} {(cpu[k] or 0) - (last_cpu[k] or 0):.1f}"
                                      for k in ("exporter", "sink", "neo4j", "emulator") if k in cpu)
                    info(f"{now - t0:6.0f} s  {n:>9,} committed  {rate:>7,.0f} traces/s in the slice   CPU s: {parts}")
                    slices.append(rate)
                last_t, last_n, last_cpu = now, n, cpu
                next_tick += self.slice_secs
            if done:
                break
            time.sleep(min(0.2, max(0.0, next_tick - time.time())))
        end = time.time()
        code = self.exporter.code
        committed = self.count()
        end_cpu = self.cpu_now()
        secs = end - t0
        per = {k: ((end_cpu[k] or 0) - (start_cpu[k] or 0)) for k in end_cpu}
        self.result = dict(name=self.name, expected=self.expected, committed=committed, secs=secs,
                           rate=committed / secs if secs > 0 else 0.0, exit=code,
                           cpu_us={k: v * 1e6 / max(committed, 1) for k, v in per.items()},
                           slices=slices)
        r = self.result
        info(f"exporter exit code {code}; {committed:,} of {self.expected:,} traces committed in {secs:.1f} s: "
             f"{r['rate']:,.0f} traces/s over the whole phase (slices {min(slices or [0]):,.0f}-{max(slices or [0]):,.0f})")
        m1 = self.sink_metrics()
        txns = m1["neo4j_sink_batch_size_count"] - m0["neo4j_sink_batch_size_count"]
        if txns > 0:
            events = m1["neo4j_sink_batch_size_sum"] - m0["neo4j_sink_batch_size_sum"]
            write = m1["neo4j_sink_write_duration_seconds_sum"] - m0["neo4j_sink_write_duration_seconds_sum"]
            r["sink"] = f"{txns:,.0f} transactions of {events / txns:.1f} events on average, {write / txns * 1000:.0f} ms each"
            info(f"neo4j-sink: {r['sink']}")
        cpu_line = " + ".join(f"{k} {v:.0f}" for k, v in r["cpu_us"].items())
        total = sum(r["cpu_us"].values())
        info(f"CPU per trace (µs): {cpu_line} = {total:.0f} µs; {CORES} cores fully busy would allow at most "
             f"{CORES * 1e6 / total if total else 0:,.0f} traces/s")
        return r


def emulator(args, name, seed, project, history, span, extra):
    d = args.dir
    argv = [os.path.join(args.bin, "cts-emulator"), "--port", "0", "--seed", str(seed), "--projects", project,
            "--history", str(history), "--history-span-secs", str(span),
            "--clouds-yaml", os.path.join(d, f"clouds-{name}.yaml")] + extra
    env = {"PATH": os.environ["PATH"], "HOME": d}
    return Proc(name, argv, env, d)


def truth_ids(emu):
    """The emulator's ground truth: every trace id it made visible."""
    url = None
    with open(emu.log, errors="replace") as f:
        for line in f:
            if "base URL" in line:
                url = line.split(":", 1)[1].strip()
                break
    if not url:
        die(f"no base URL in {emu.log}")
    with urllib.request.urlopen(url.rstrip("/") + "/_emulator/truth?project_id=" + emu.project, timeout=300) as r:
        return json.load(r)["trace_ids"]


def main():
    ap = argparse.ArgumentParser(prog="scripts/bench-e2e")
    ap.add_argument("--archive", type=int, default=1_000_000)
    ap.add_argument("--api", type=int, default=200_000)
    ap.add_argument("--slice-secs", type=float, default=10.0)
    ap.add_argument("--port", type=int, default=7750)
    ap.add_argument("--no-writer-bench", action="store_true")
    ap.add_argument("--keep-archive", action="store_true")
    ap.add_argument("--bin", required=True)
    ap.add_argument("--bench-exe", default="")
    ap.add_argument("--dir", required=True)
    ap.add_argument("--root", required=True)
    ap.add_argument("--heap", default="2g")
    ap.add_argument("--pagecache", default="1g")
    args = ap.parse_args()
    if args.archive < 1 or args.api < 0:
        die("--archive must be at least 1 and --api at least 0")
    # The sink here is neo4j-sink itself, which takes CloudEvents batches: the exporter sends them, as a
    # deployment straight into the sink would (CTS_CE_BATCH=false in E2E_EXPORTER_ENV sends single events).
    exporter_env = {"CTS_CE_BATCH": "true", **extra_env("E2E_EXPORTER_ENV")}
    sink_env = extra_env("E2E_SINK_ENV")
    os.makedirs(args.dir, exist_ok=True)
    from neo4j import GraphDatabase  # the venv of scripts/bench-e2e

    neo = Neo4j(args.root, args.port, os.path.join(args.dir, "neo4j"), args.heap, args.pagecache)
    procs = []
    archive = os.path.join(args.dir, "archive")
    failures = []
    results = []
    try:
        load = open("/proc/loadavg").read().split()[:3]
        say(f"host: {CORES} cores, load average {' '.join(load)} (other work on the host shares the cores)")
        say(f"a fresh Neo4j on 127.0.0.1:{args.port} (data in {neo.dir}, heap {args.heap}, page cache {args.pagecache})")
        info(f"started in {neo.start_fresh():.0f} s, JVM pid {neo.pid}")
        driver = GraphDatabase.driver(neo.uri, auth=(neo.user, neo.password))
        session = driver.session()

        # ------------------------------------------------------------ archive
        # Six days per 1,000,000 traces (about 48 traces per 5-minute archive file, as in the exporter's
        # backfill bench), at least an hour.
        span = min(30 * 86400, max(3600, args.archive * 6 * 86400 // 1_000_000, args.archive // 1000 + 1))
        say(f"cts-emulator writes {args.archive:,} traces ({span / 3600:.1f} hours, one project) as OBS-layout archives")
        t0 = time.time()
        if os.path.isdir(archive):
            subprocess.run(["rm", "-rf", archive], check=True)
        emu_a = emulator(args, "emulator-archive", 15, "eu-de_e2e", args.archive, span,
                         ["--archive-dir", archive])
        emu_a.project = "eu-de_e2e"
        procs.append(emu_a)
        wait_for(lambda: log_has(emu_a, "archives :"), 3600, "the archive", [emu_a])
        du = subprocess.run(["du", "-sh", archive], capture_output=True, text=True).stdout.split()[0]
        info(f"written in {time.time() - t0:.0f} s ({du}); {[l.strip() for l in open(emu_a.log) if 'archives :' in l][0]}")
        expected_a = truth_ids(emu_a)

        import socket
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        sink_port = s.getsockname()[1]
        s.close()
        sink_env_all = {"PATH": os.environ["PATH"], "HOME": args.dir, "PORT": str(sink_port),
                        "LISTEN_ADDR": "127.0.0.1", "NEO4J_URI": neo.uri, "NEO4J_USER": neo.user,
                        "NEO4J_PASSWORD": neo.password, "LOG_FORMAT": "json", **sink_env}
        sink = Proc("sink", [os.path.join(args.bin, "neo4j-sink")], sink_env_all, args.dir)
        procs.append(sink)

        def ready():
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{sink_port}/readyz", timeout=2):
                    return True
            except OSError:
                return False
        wait_for(ready, 180, "neo4j-sink /readyz", [sink])
        say(f"neo4j-sink on 127.0.0.1:{sink_port}" + (f" with {' '.join(sink_env)}" if sink_env else ""))

        def exporter(name, cloud, clouds_yaml, argv):
            env = {"PATH": os.environ["PATH"], "HOME": args.dir, "OS_CLIENT_CONFIG_FILE": clouds_yaml,
                   "OS_CLOUD": cloud, "K_SINK": f"http://127.0.0.1:{sink_port}/",
                   "CTS_METRICS_ADDR": "127.0.0.1:0",
                   "CTS_DEAD_LETTER_FILE": os.path.join(args.dir, f"dead-letters-{name}.ndjson"),
                   "K_OIDC_TOKEN_FILE": os.path.join(args.dir, "no-oidc-token"), **exporter_env}
            return Proc(name, [os.path.join(args.bin, "cts-exporter"), "backfill", *argv], env, args.dir)

        for f in os.listdir(args.dir):
            if f.startswith("dead-letters-"):
                os.remove(os.path.join(args.dir, f))
        say("exporter settings: " + " ".join(f"{k}={v}" for k, v in exporter_env.items()))
        exp_a = exporter("exporter-archive", "eu-de_e2e", os.path.join(args.dir, "clouds-emulator-archive.yaml"),
                         ["--archive-dir", archive, "--progress-secs", str(int(max(args.slice_secs, 1)))])
        procs.append(exp_a)
        metrics_url = f"http://127.0.0.1:{sink_port}/metrics"
        ph = Phase("archive backfill", len(expected_a), exp_a, {"sink": sink, "emulator": emu_a}, neo,
                   session, args.slice_secs, 0, metrics_url)
        results.append(ph.run())
        emu_a.stop()

        # ------------------------------------------------------------ API catch-up
        expected_b = []
        if args.api > 0:
            api_span = 7200
            say(f"cts-emulator serves {args.api:,} traces of the last {api_span // 3600} hours (another project)")
            since_ms = int((time.time() - api_span - 120) * 1000)
            emu_b = emulator(args, "emulator-api", 16, "eu-nl_e2eapi", args.api, api_span, [])
            emu_b.project = "eu-nl_e2eapi"
            procs.append(emu_b)
            wait_for(lambda: log_has(emu_b, "clouds.yaml written"), 600, "the API emulator", [emu_b])
            expected_b = truth_ids(emu_b)
            before = session.run("MATCH (a:Action) RETURN count(a) AS c").single()["c"]
            exp_b = exporter("exporter-api", "eu-nl_e2eapi", os.path.join(args.dir, "clouds-emulator-api.yaml"),
                             ["--since", str(since_ms), "--progress-secs", str(int(max(args.slice_secs, 1)))])
            procs.append(exp_b)
            ph = Phase("API catch-up", len(expected_b), exp_b, {"sink": sink, "emulator": emu_b}, neo,
                       session, args.slice_secs, before, metrics_url)
            results.append(ph.run())
            emu_b.stop()
        sink.stop()

        # ------------------------------------------------------------ verify
        say("reading every trace id back from Neo4j and comparing with the emulators' ground truth")
        got = [r["id"] for r in session.run("MATCH (a:Action) RETURN a.traceId AS id")]
        counts = {}
        for i in got:
            counts[i] = counts.get(i, 0) + 1
        exp = set(expected_a) | set(expected_b)
        missing = len(exp - counts.keys())
        extra = len(counts.keys() - exp)
        dup = sum(1 for c in counts.values() if c > 1)
        dead = 0
        for f in os.listdir(args.dir):
            if f.startswith("dead-letters-"):
                with open(os.path.join(args.dir, f)) as fh:
                    dead += sum(1 for _ in fh)
        distinct = session.run("MATCH (a:Action) RETURN count(DISTINCT a.traceId) AS c").single()["c"]
        info(f"expected {len(exp):,} (archive {len(expected_a):,} + API {len(expected_b):,}, distinct), "
             f"stored {len(got):,} ({distinct:,} distinct ids): missing {missing}, extra {extra}, "
             f"duplicated {dup}, dead letters {dead}")
        if (missing, extra, dup, dead) != (0, 0, 0, 0) or len(got) != len(exp) or distinct != len(exp):
            failures.append("not every trace was stored exactly once")
        for r in results:
            if r["exit"] != 0:
                failures.append(f"the exporter of the {r['name']} exited with code {r['exit']}")
        session.close()
        driver.close()

        # ------------------------------------------------------------ writer bench
        writer = None
        if not args.no_writer_bench and args.bench_exe:
            say("the trace-graph writer bench on the archive's traces, against a second fresh Neo4j data dir")
            info(f"Neo4j restarted fresh in {neo.start_fresh():.0f} s, JVM pid {neo.pid}")
            n = len(expected_a)
            slice_n = min(100_000, max(1, n // 2)) if n >= 2 else 1
            total = (n // slice_n) * slice_n
            env = dict(os.environ, NEO4J_URI=neo.uri, NEO4J_USER=neo.user, NEO4J_PASSWORD=neo.password,
                       TG_BENCH_ARCHIVE=archive, TG_BENCH_TOTAL=str(total), TG_BENCH_SLICE=str(slice_n),
                       TG_BENCH_WARMUP="0", TG_BENCH_BASELINE="0", TG_BENCH_NEO4J_PID=str(neo.pid))
            out_path = os.path.join(args.dir, "writer-bench.log")
            t0 = time.time()
            with open(out_path, "w") as out:
                rc = subprocess.run([args.bench_exe, "--bench"], env=env, stdout=out, stderr=subprocess.STDOUT).returncode
            text = open(out_path, errors="replace").read()
            for line in text.splitlines():
                if line.startswith(("writer, slice", "ceiling,", "  writer CPU", "  ceiling CPU")):
                    info(line.strip())
            if rc != 0:
                failures.append(f"the writer bench failed (exit {rc}); see {out_path}")
            else:
                for line in text.splitlines():
                    if line.startswith("| batched writer, whole run"):
                        writer = float(line.split("|")[2].strip())
                info(f"writer bench: {total:,} traces in {time.time() - t0:.0f} s (incl. the interleaved ceiling); "
                     f"whole run {writer:,.0f} traces/s")

        # ------------------------------------------------------------ summary
        say("summary")
        print()
        print("| phase | traces | seconds | traces/s committed | slices (min-max) | CPU µs per trace: exporter + sink + Neo4j + emulator |")
        print("|---|---|---|---|---|---|")
        for r in results:
            c = r["cpu_us"]
            print(f"| {r['name']} | {r['committed']:,} | {r['secs']:.1f} | {r['rate']:,.0f} | "
                  f"{min(r['slices'] or [0]):,.0f}-{max(r['slices'] or [0]):,.0f} | "
                  f"{c.get('exporter', 0):.0f} + {c.get('sink', 0):.0f} + {c.get('neo4j', 0):.0f} + "
                  f"{c.get('emulator', 0):.0f} = {sum(c.values()):.0f} |")
        if writer:
            print(f"| writer bench, same archive traces, fresh data dir | {total:,} | | {writer:,.0f} | | |")
        print()
        a = results[0]
        if writer:
            ratio = a["rate"] / writer
            print(f"archive backfill >= 0.8x the writer bench: {'met' if ratio >= 0.8 else 'NOT met'} ({ratio:.2f}x)")
        if a["committed"] >= 1_000_000:
            print(f"archive backfill >= 5,000 traces/s over {a['committed']:,} traces: "
                  f"{'met' if a['rate'] >= 5000 else 'NOT met'} ({a['rate']:,.0f})")
        load = open("/proc/loadavg").read().split()[:3]
        print(f"load average at the end: {' '.join(load)}")
    finally:
        for p in reversed(procs):
            p.stop()
        neo.wipe()   # stops our Neo4j and deletes its data dir
        if not args.keep_archive and os.path.isdir(archive):
            subprocess.run(["rm", "-rf", archive])
    if failures:
        for f in failures:
            print(f"bench-e2e: FAILED: {f}", file=sys.stderr)
        sys.exit(1)
    say("every trace stored exactly once")


if __name__ == "__main__":
    main()
