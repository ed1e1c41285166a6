#!/usr/bin/env python3
"""Proves that an OCI image archive built by `scripts/images build` is self-contained.

Called by `scripts/images check` with arguments NAME=VERSION=ARCHIVE. For each image it reads the OCI
layout (index, manifest, config), unpacks the layers into a scratch root file system and then:

- checks the config: user 65532:65532, the entrypoint, the org.opencontainers.image.* labels (version =
  the Cargo version);
- checks the files: only the binary, shared libraries, CA certificates, passwd/group/nsswitch, the
  licence texts, /home/nonroot (owned by 65532) and /tmp; no shell; no set-uid bits;
- runs the binary under `chroot` as user 65532 with an empty environment: `--version` must print
  "<name> <version>", an invalid setting must stop it with exit code 78 naming the setting, and
  neo4j-sink must serve /healthz (200) and /readyz (503, no Neo4j) and exit 0 on SIGTERM.

A binary that needed anything from the host (a library, the loader, a file) would fail under chroot.
Ends with "N passed, N failed"; exit status 1 if anything failed. Needs root (chroot).
"""

import json
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request

NONROOT = 65532
CHROOT = shutil.which("chroot") or "/usr/sbin/chroot"
LABELS = ("title", "description", "version", "revision", "source", "licenses", "created")
# Regular files an image may contain besides /usr/local/bin/<name>.
ALLOWED_FILES = [
    r"(usr/)?lib(64|32|x32)?(/[a-z0-9_]+-linux-gnu[a-z0-9]*)?/(ld-linux[^/]*|lib[^/]+\.so[0-9.]*)",
    r"etc/(passwd|group|nsswitch\.conf)",
    r"etc/ssl/certs/ca-certificates\.crt",
    r"usr/share/doc/[^/]+/copyright",
]


class Report:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, ok, what, detail=""):
        if ok:
            self.passed += 1
            print(f"ok - {what}")
        else:
            self.failed += 1
            print(f"FAIL - {what}" + (f": {detail}" if detail else ""))
        return ok


def blob(layout, digest):
    algo, hexdigest = digest.split(":", 1)
    return os.path.join(layout, "blobs", algo, hexdigest)


def extract(tar, dest, how):
    """extractall with a safety filter (Python 3.11.4+); older versions check the names themselves."""
    if hasattr(tarfile, "data_filter"):
        tar.extractall(dest, filter=how)
        return
    for m in tar.getmembers():
        if m.name.startswith("/") or ".." in m.name.split("/") or (m.issym() and m.linkname.startswith("/")):
            raise ValueError(f"unsafe path in archive: {m.name}")
    tar.extractall(dest)


def read_image(archive, workdir):
    """Unpacks the archive's OCI layout; returns (config, member list, rootfs path)."""
    layout = os.path.join(workdir, "layout")
    rootfs = os.path.join(workdir, "rootfs")
    os.makedirs(rootfs)
    with tarfile.open(archive) as tar:
        extract(tar, layout, "data")
    with open(os.path.join(layout, "index.json")) as f:
        index = json.load(f)
    if len(index.get("manifests", [])) != 1:
        raise ValueError(f"{archive}: expected one manifest in index.json, found {index.get('manifests')}")
    with open(blob(layout, index["manifests"][0]["digest"])) as f:
        manifest = json.load(f)
    with open(blob(layout, manifest["config"]["digest"])) as f:
        config = json.load(f)
    members = {}
    for layer in manifest["layers"]:
        with tarfile.open(blob(layout, layer["digest"]), mode="r:*") as tar:
            for m in tar.getmembers():
                name = m.name.lstrip("./").rstrip("/")
                base = os.path.basename(name)
                if base.startswith(".wh."):
                    # A whiteout removes a path of an earlier layer.
                    gone = os.path.join(os.path.dirname(name), base[4:])
                    members = {k: v for k, v in members.items() if k != gone and not k.startswith(gone + "/")}
                    shutil.rmtree(os.path.join(rootfs, gone), ignore_errors=True)
                    continue
                members[name] = m
            # "tar" keeps owners and modes but refuses paths that leave rootfs.
            extract(tar, rootfs, "tar")
    return config, members, rootfs


def chroot_cmd(rootfs, name, *args):
    # Absolute: the binary runs with an empty environment (no PATH).
    return [CHROOT, f"--userspec={NONROOT}:{NONROOT}", rootfs, f"/usr/local/bin/{name}", *args]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_status(url):
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def check_config(r, name, version, config):
    c = config.get("config", {})
    r.check(c.get("User") == f"{NONROOT}:{NONROOT}", f"{name}: runs as {NONROOT}:{NONROOT}", c.get("User"))
    r.check(c.get("Entrypoint") == [f"/usr/local/bin/{name}"], f"{name}: entrypoint", c.get("Entrypoint"))
    labels = c.get("Labels") or {}
    missing = [k for k in LABELS if not labels.get(f"org.opencontainers.image.{k}")]
    r.check(not missing, f"{name}: org.opencontainers.image labels", f"missing or empty: {missing}")
    r.check(labels.get("org.opencontainers.image.version") == version, f"{name}: version label is {version}",
            labels.get("org.opencontainers.image.version"))
    r.check(labels.get("org.opencontainers.image.title") == name, f"{name}: title label",
            labels.get("org.opencontainers.image.title"))
    r.check(config.get("os") == "linux", f"{name}: os linux", config.get("os"))


def check_files(r, name, members):
    files = sorted(k for k, m in members.items() if m.isfile())
    unexpected = [f for f in files if f != f"usr/local/bin/{name}"
                  and not any(re.fullmatch(p, f) for p in ALLOWED_FILES)]
    r.check(not unexpected, f"{name}: only the binary, libraries, certificates and /etc files", unexpected)
    binary = members.get(f"usr/local/bin/{name}")
    r.check(binary is not None and binary.isfile() and binary.mode & 0o111 == 0o111,
            f"{name}: /usr/local/bin/{name} is executable")
    shells = [k for k in ("bin/sh", "usr/bin/sh", "bin/bash") if k in members]
    r.check(not shells, f"{name}: no shell in the image", shells)
    suid = [k for k, m in members.items() if m.mode & (stat.S_ISUID | stat.S_ISGID)]
    r.check(not suid, f"{name}: no set-uid/set-gid files", suid)
    home = members.get("home/nonroot")
    r.check(home is not None and home.isdir() and (home.uid, home.gid) == (NONROOT, NONROOT),
            f"{name}: /home/nonroot owned by {NONROOT}", home and (home.uid, home.gid))
    tmp = members.get("tmp")
    r.check(tmp is not None and tmp.mode & 0o1777 == 0o1777, f"{name}: /tmp is world-writable and sticky")
    not_root = [k for k, m in members.items() if (m.uid, m.gid) != (0, 0) and not k.startswith("home/nonroot")]
    r.check(not not_root, f"{name}: everything else belongs to root", not_root)


def check_etc(r, name, rootfs):
    def read(path):
        try:
            with open(os.path.join(rootfs, path), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    passwd = read("etc/passwd")
    r.check(re.search(rf"^nonroot:x:{NONROOT}:{NONROOT}:[^:]*:/home/nonroot:", passwd, re.M) is not None,
            f"{name}: /etc/passwd has nonroot ({NONROOT})", passwd)
    r.check(re.search(rf"^nonroot:x:{NONROOT}:", read("etc/group"), re.M) is not None,
            f"{name}: /etc/group has nonroot ({NONROOT})")
    certs = read("etc/ssl/certs/ca-certificates.crt")
    r.check(certs.count("BEGIN CERTIFICATE") >= 10, f"{name}: CA certificates",
            f"{certs.count('BEGIN CERTIFICATE')} certificates")


def check_runs(r, name, version, rootfs):
    out = subprocess.run(chroot_cmd(rootfs, name, "--version"), env={}, capture_output=True, text=True,
                         timeout=30)
    r.check(out.returncode == 0 and out.stdout.strip() == f"{name} {version}",
            f"{name}: `{name} --version` under chroot prints \"{name} {version}\"",
            f"exit {out.returncode}, stdout {out.stdout!r}, stderr {out.stderr.strip()[:600]!r}")

    # A bad setting: the binary starts, parses its configuration and refuses it (exit 78).
    bad = {"cts-exporter": ({"CTS_FROM": "0"}, "CTS_FROM"),
           "neo4j-sink": ({"PORT": "http", "NEO4J_PASSWORD": "unused"}, "PORT")}
    env, setting = bad[name]
    out = subprocess.run(chroot_cmd(rootfs, name), env=env, capture_output=True, text=True, timeout=30)
    r.check(out.returncode == 78 and setting in out.stderr,
            f"{name}: an invalid {setting} stops it with exit code 78 naming {setting}",
            f"exit {out.returncode}, stderr {out.stderr.strip()[:600]!r}")

    if name == "neo4j-sink":
        check_sink_serves(r, rootfs)


def check_sink_serves(r, rootfs):
    port = free_port()
    env = {"PORT": str(port), "LISTEN_ADDR": "127.0.0.1", "NEO4J_URI": "bolt://127.0.0.1:1",
           "NEO4J_PASSWORD": "unused", "NEO4J_CONNECT_TIMEOUT_SECS": "1", "SHUTDOWN_TIMEOUT_SECS": "5",
           "LOG_FORMAT": "text"}
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen(chroot_cmd(rootfs, "neo4j-sink"), env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        health = None
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                health = http_status(f"http://127.0.0.1:{port}/healthz")
                break
            except OSError:
                time.sleep(0.1)
        r.check(health == 200, "neo4j-sink: serves /healthz (200) from the image", f"status {health}")
        ready = http_status(f"http://127.0.0.1:{port}/readyz") if health else None
        r.check(ready == 503, "neo4j-sink: /readyz is 503 without Neo4j", f"status {ready}")
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
        log.seek(0)
        output = log.read().decode(errors="replace")
        log.close()
    r.check(code == 0, "neo4j-sink: exits 0 on SIGTERM", f"exit {code}; output: {output[-800:]!r}")


def main(args):
    if os.geteuid() != 0:
        sys.exit("images-check: chroot needs root")
    if not args:
        sys.exit("usage: images-check.py NAME=VERSION=ARCHIVE...")
    r = Report()
    for arg in args:
        name, version, archive = arg.split("=", 2)
        with tempfile.TemporaryDirectory(prefix=f"image-check-{name}.") as workdir:
            try:
                config, members, rootfs = read_image(archive, workdir)
            except (OSError, ValueError, KeyError, tarfile.TarError, json.JSONDecodeError) as e:
                r.check(False, f"{name}: {archive} is a readable OCI archive", str(e))
                continue
            check_config(r, name, version, config)
            check_files(r, name, members)
            check_etc(r, name, rootfs)
            check_runs(r, name, version, rootfs)
    print(f"{r.passed} passed, {r.failed} failed")
    return 1 if r.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
