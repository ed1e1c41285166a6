"""Checks that the manifests set only environment variables the binaries read, and that the files
those variables name exist in the pod.

The variables a binary reads are taken from the binary itself: clap prints every flag's variable in
`--help` as `[env: NAME=...]`. cts-exporter also reads the OpenStack `OS_*` variables through
otc-auth, which are taken from otc-auth's source (its string literals). Variables that Knative
injects (K_SINK, K_CE_OVERRIDES, K_CA_CERTS for sources, PORT for Knative Services) must not be
set by hand: Knative refuses PORT and overwrites the others.
"""

import base64
import glob
import os
import posixpath
import re
import subprocess

from k8s import containers, ident, pod_spec

BINARIES = ("cts-exporter", "neo4j-sink")
INJECTED_SERVING = {"PORT", "K_SERVICE", "K_CONFIGURATION", "K_REVISION"}
INJECTED_SOURCE = {"K_SINK", "K_CE_OVERRIDES", "K_CA_CERTS"}
# Settings that name a file: the pod must provide it (read) or be able to write it (write).
FILE_SETTINGS = {
    "cts-exporter": {"CTS_STATE_FILE": "write", "CTS_DEAD_LETTER_FILE": "write", "OS_CLIENT_CONFIG_FILE": "read",
                     "OS_CLIENT_SECURE_FILE": "read"},
    "neo4j-sink": {"OIDC_JWKS_FILE": "read"},
}


def help_env_names(binary, args=()):
    """The variables `binary [args] --help` documents (clap's `[env: NAME=...]`)."""
    out = subprocess.run([binary, *args, "--help"], capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        raise RuntimeError(f"`{binary} {' '.join(args)} --help` failed: {out.stderr.strip()}")
    names = set(re.findall(r"\[env: ([A-Z][A-Z0-9_]*)[=\]]", out.stdout))
    if not names:
        raise RuntimeError(f"`{binary} --help` lists no [env: ...] variables; has the help format changed?")
    return names


def otc_auth_env_names(repo):
    """The OS_* variables otc-auth reads: string literals in its sources (tests excluded)."""
    names = set()
    for path in glob.glob(os.path.join(repo, "otc-auth", "src", "**", "*.rs"), recursive=True):
        if "test" in os.path.basename(path):
            continue
        with open(path) as f:
            names |= set(re.findall(r'"(OS_[A-Z0-9_]+)"', f.read()))
    if not names:
        raise RuntimeError("found no OS_* variables in otc-auth/src; has otc-auth moved?")
    return names


def env_sets(repo, bin_dir):
    """{binary: {mode: names}} where mode is "" (the default command), "backfill" or "detect"."""
    exporter = os.path.join(bin_dir, "cts-exporter")
    sink = os.path.join(bin_dir, "neo4j-sink")
    os_vars = otc_auth_env_names(repo)
    return {
        "cts-exporter": {"": help_env_names(exporter) | os_vars,
                         "backfill": help_env_names(exporter, ["backfill"]) | os_vars},
        "neo4j-sink": {"": help_env_names(sink), "detect": help_env_names(sink, ["detect"])},
    }


def binary_of(image):
    """Which of our binaries an image reference runs, or None for another image."""
    path = image.split("@", 1)[0]
    last = path.rsplit("/", 1)[-1].split(":", 1)[0]
    return last if last in BINARIES else None


def _objects(docs):
    out = {}
    for d in docs:
        if d.get("kind") not in ("ConfigMap", "Secret"):
            continue
        values = dict(d.get("stringData") or {})
        for k, v in (d.get("data") or {}).items():
            values[k] = base64.b64decode(v).decode(errors="replace") if d["kind"] == "Secret" else v
        out[(d["kind"], d["metadata"]["name"])] = values
    return out


def check(docs, sets, where):
    """Errors for variables and file settings of every container that runs one of our binaries."""
    objects = _objects(docs)
    bound = {((d.get("spec") or {}).get("subject") or {}).get("name") for d in docs if d.get("kind") == "SinkBinding"}
    errors = []
    for d in docs:
        for c in containers(d):
            binary = binary_of(c.get("image") or "")
            if binary is None:
                continue
            who = f"{where}: {ident(d)} container {c.get('name')} ({binary})"
            args = c.get("args") or []
            mode = args[0] if args[:1] in (["backfill"], ["detect"]) else ""
            allowed = sets[binary].get(mode, sets[binary][""])
            values = {}
            for src in c.get("envFrom") or []:
                ref = src.get("configMapRef") or src.get("secretRef")
                kind = "ConfigMap" if "configMapRef" in src else "Secret"
                prefix = src.get("prefix", "")
                for k, v in objects.get((kind, (ref or {}).get("name")), {}).items():
                    values[prefix + k] = (v, f"{kind}/{ref.get('name')}")
            for e in c.get("env") or []:
                values[e.get("name")] = (e.get("value"), "env")
            for name, (_, origin) in sorted(values.items()):
                if name not in allowed:
                    errors.append(f"{who}: sets {name} (from {origin}), which {binary} does not read; "
                                  f"`{binary} --help` lists the variables it reads")
            injected = set()
            if d.get("kind") == "Service":
                injected = INJECTED_SERVING
            elif d.get("kind") == "ContainerSource" or (d.get("kind") == "Deployment"
                                                        and d["metadata"]["name"] in bound):
                injected = INJECTED_SOURCE
            for name in sorted(injected & set(values)):
                errors.append(f"{who}: sets {name}, which Knative injects; remove it")
            errors += _files(d, c, binary, values, objects, who)
    return errors


def _files(doc, container, binary, values, objects, who):
    errors = []
    volumes = {v.get("name"): v for v in (pod_spec(doc) or {}).get("volumes") or []}
    read_only_root = (container.get("securityContext") or {}).get("readOnlyRootFilesystem", False)
    for name, access in FILE_SETTINGS[binary].items():
        value = (values.get(name) or (None,))[0]
        if not value:
            continue
        mount = None
        for m in container.get("volumeMounts") or []:
            base = m.get("mountPath", "").rstrip("/")
            if value.startswith(base + "/") and (mount is None or len(base) > len(mount["mountPath"])):
                mount = m
        if mount is None:
            if access == "write" and read_only_root:
                errors.append(f"{who}: {name}={value} is on the read-only root file system; mount a volume there")
            elif access == "read":
                errors.append(f"{who}: {name}={value} is not on any mounted volume")
            continue
        volume = volumes.get(mount.get("name")) or {}
        if access == "write" and (mount.get("readOnly") or "secret" in volume or "configMap" in volume):
            errors.append(f"{who}: {name}={value} must be writable, but {mount['mountPath']} is read-only")
        if access == "read" and ("secret" in volume or "configMap" in volume) and not mount.get("subPath"):
            kind, ref = ("Secret", volume["secret"].get("secretName")) if "secret" in volume else \
                ("ConfigMap", volume["configMap"].get("name"))
            rel = posixpath.relpath(value, mount["mountPath"])
            keys = objects.get((kind, ref))
            if keys is not None and rel not in keys:
                errors.append(f"{who}: {name}={value}, but {kind}/{ref} mounted at {mount['mountPath']} "
                              f"has no key {rel!r} (it has {sorted(keys)})")
    return errors
