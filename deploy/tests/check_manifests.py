#!/usr/bin/env python3
"""Checks deploy/ (kustomize + Knative manifests) and the Dockerfile without a cluster.

Run through scripts/check-deploy, which builds the binaries and finds kustomize. Checks:

1. every YAML/JSON/env file under deploy/ parses, every file is used by a kustomization, and the
   files that hold secrets (clouds.yaml, neo4j.env, jwks.json) are git-ignored, never committed;
2. every resource file validates: Knative kinds against their CRD schemas (deploy/schemas), core kinds
   for their required fields, every container against Knative's strict container schema;
3. every overlay renders with `kustomize build` (with the *.example files standing in for the secrets)
   and its output validates again, every reference (ConfigMap, Secret, PVC, sink, broker, subject,
   dead-letter sink) resolves, our images carry the Cargo version as tag, everything is in one namespace,
   neo4j-sink has its /readyz and /healthz probes;
4. every environment variable set for cts-exporter or neo4j-sink is one the binary reads (from its
   `--help`), none is one Knative injects, and the files named by settings are mounted (writable where
   the binary writes);
5. the Dockerfile agrees with scripts/images (user, entrypoint, port, labels, version).

Without kustomize, step 3 is replaced by the same checks on the raw files. Ends with
"N passed, N failed".
"""

import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dockerfile  # noqa: E402
import envcheck  # noqa: E402
import k8s  # noqa: E402

NAMESPACE = "cloudtrace"


class Report:
    def __init__(self):
        self.passed = self.failed = 0

    def add(self, what, errors):
        if errors:
            self.failed += 1
            print(f"FAIL - {what}")
            for e in errors:
                print(f"    {e}")
        else:
            self.passed += 1
            print(f"ok - {what}")


def load_yaml_docs(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def read_env_file(path):
    """KEY=VALUE lines as kustomize reads them; raises ValueError naming the bad line."""
    out = {}
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            key, sep, value = line.partition("=")
            if not sep or not key or not key.replace("_", "").isalnum():
                raise ValueError(f"{path}:{n}: expected KEY=value, got {line!r}")
            out[key] = value
    return out


def existing_or_example(path):
    if os.path.exists(path):
        return path
    return path + ".example" if os.path.exists(path + ".example") else None


class Kustomization:
    """One kustomization.yaml: the files it uses, by role."""

    def __init__(self, path):
        self.path = path
        self.dir = os.path.dirname(path)
        (self.doc,) = load_yaml_docs(path)
        rel = lambda p: os.path.normpath(os.path.join(self.dir, p))  # noqa: E731
        self.resources = [rel(p) for p in self.doc.get("resources", []) if os.path.isfile(rel(p))]
        self.patches = [rel(p["path"]) for p in self.doc.get("patches", []) if "path" in p]
        self.configurations = [rel(p) for p in self.doc.get("configurations", [])]
        self.generators = []  # (kind, name, {"envs"|"files"|"literals": [...]})
        for kind, key in (("ConfigMap", "configMapGenerator"), ("Secret", "secretGenerator")):
            for g in self.doc.get(key, []):
                self.generators.append((kind, g["name"], g))

    def generator_files(self):
        for kind, name, g in self.generators:
            for p in g.get("envs", []):
                yield kind, name, "envs", os.path.normpath(os.path.join(self.dir, p)), None
            for entry in g.get("files", []):
                key, _, p = entry.rpartition("=")
                p = os.path.normpath(os.path.join(self.dir, p))
                yield kind, name, "files", p, key or os.path.basename(p)


def check_files(deploy, repo, kusts, report):
    """Step 1: everything parses, is used, and secrets stay out of git."""
    used, errors = set(), []
    for k in kusts:
        used |= {k.path, *k.resources, *k.patches, *k.configurations}
        for _, _, _, path, _ in k.generator_files():
            used.add(path)
    for path in sorted(glob.glob(os.path.join(deploy, "**", "*"), recursive=True)):
        rel = os.path.relpath(path, deploy)
        if os.path.isdir(path) or rel.startswith(("schemas" + os.sep, "tests" + os.sep)) or rel == ".gitignore":
            continue
        try:
            if path.endswith((".yaml", ".yml", ".yaml.example")):
                load_yaml_docs(path)
            elif path.endswith((".json", ".json.example")):
                with open(path) as f:
                    json.load(f)
            elif path.endswith((".env", ".env.example")):
                read_env_file(path)
        except (yaml.YAMLError, ValueError) as e:
            errors.append(f"{rel}: does not parse: {e}")
        base = path[: -len(".example")] if path.endswith(".example") else path
        if base not in used:
            errors.append(f"{rel}: no kustomization uses it; remove it or list it")
    for k in kusts:
        for _, name, _, path, _ in k.generator_files():
            rel = os.path.relpath(path, repo)
            if existing_or_example(path) is None:
                errors.append(f"{rel} (generator {name}) is missing and has no {os.path.basename(path)}.example")
            if os.path.exists(path + ".example"):
                # A file with an example holds secrets: it must be ignored and never committed.
                ignored = subprocess.run(["git", "-C", repo, "check-ignore", "-q", "--no-index", rel]).returncode == 0
                tracked = subprocess.run(["git", "-C", repo, "ls-files", "--error-unmatch", rel],
                                         capture_output=True).returncode == 0
                if not ignored or tracked:
                    errors.append(f"{rel} holds secrets but is {'committed' if tracked else 'not git-ignored'}")
    with open(os.path.join(deploy, "base", "clouds.yaml.example")) as f:
        clouds = yaml.safe_load(f)
    if not isinstance(clouds, dict) or not isinstance(clouds.get("clouds"), dict) or not clouds["clouds"]:
        errors.append("base/clouds.yaml.example: needs a `clouds:` mapping with at least one cloud")
    report.add("deploy/: every file parses, is used, secrets are git-ignored", errors)


def check_raw(deploy, kusts, schemas, report):
    """Step 2: each resource file and patch on its own."""
    errors = []
    for k in kusts:
        for path in k.resources:
            for d in load_yaml_docs(path):
                errors += k8s.validate(d, schemas, os.path.relpath(path, deploy))
        for path in k.patches:
            ops = load_yaml_docs(path)
            ops = ops[0] if len(ops) == 1 and isinstance(ops[0], list) else ops
            for op in ops:
                if not (isinstance(op, dict) and op.get("op") in ("add", "remove", "replace", "move", "copy", "test")
                        and str(op.get("path", "")).startswith("/")):
                    errors.append(f"{os.path.relpath(path, deploy)}: not a JSON patch operation: {op}")
    report.add("resource files validate (Knative schemas, core kinds, containers)", errors)


def synthesized(kusts):
    """Without kustomize: the raw resources plus the objects the generators would make."""
    docs = []
    for k in kusts:
        for path in k.resources:
            docs += load_yaml_docs(path)
        for kind, name, g in k.generators:
            data = dict(kv.split("=", 1) for kv in g.get("literals", []))
            for gkind, gname, role, path, key in k.generator_files():
                if (gkind, gname) != (kind, name):
                    continue
                src = existing_or_example(path)
                if role == "envs":
                    data.update(read_env_file(src))
                else:
                    with open(src) as f:
                        data[key] = f.read()
            field = "stringData" if kind == "Secret" else "data"
            docs.append({"apiVersion": "v1", "kind": kind, "metadata": {"name": name}, field: data})
    return docs


def render(kustomize, deploy, overlay):
    """`kustomize build` of an overlay in a copy of deploy/ where *.example files stand in for secrets."""
    with tempfile.TemporaryDirectory(prefix="check-deploy.") as tmp:
        copy = os.path.join(tmp, "deploy")
        # Real secret files are left behind: the examples stand in, so the result never depends on them.
        secrets = [os.path.basename(e)[: -len(".example")]
                   for e in glob.glob(os.path.join(deploy, "**", "*.example"), recursive=True)]
        shutil.copytree(deploy, copy, ignore=shutil.ignore_patterns("schemas", "tests", *secrets))
        for example in glob.glob(os.path.join(copy, "**", "*.example"), recursive=True):
            shutil.copyfile(example, example[: -len(".example")])
        out = subprocess.run([kustomize, "build", os.path.join(copy, "overlays", overlay)],
                             capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        raise RuntimeError(out.stderr.strip().replace(tmp, "<tmp>"))
    return [d for d in yaml.safe_load_all(out.stdout) if d is not None]


def check_rendered(docs, where, schemas, sets, packages):
    errors = []
    for d in docs:
        errors += k8s.validate(d, schemas, where)
        ns = (d.get("metadata") or {}).get("namespace")
        if d.get("kind") != "Namespace" and ns != NAMESPACE:
            errors.append(f"{where}: {k8s.ident(d)} is in namespace {ns!r}, expected {NAMESPACE!r}")
        for c in k8s.containers(d):
            binary = envcheck.binary_of(c.get("image") or "")
            if binary and not c["image"].endswith(":" + packages[binary][0]):
                errors.append(f"{where}: {k8s.ident(d)} runs {c['image']}, expected the tag {packages[binary][0]} "
                              "(Cargo.toml); update components/images")
        if d.get("kind") == "Service" and d["metadata"]["name"] == "neo4j-sink":
            (c,) = k8s.containers(d)
            probes = {p: ((c.get(p) or {}).get("httpGet") or {}).get("path") for p in ("readinessProbe", "livenessProbe")}
            if probes != {"readinessProbe": "/readyz", "livenessProbe": "/healthz"}:
                errors.append(f"{where}: neo4j-sink probes are {probes}; expected /readyz and /healthz")
            if not (c.get("resources") or {}).get("requests"):
                errors.append(f"{where}: neo4j-sink has no resource requests")
    errors += k8s.references(docs, where)
    errors += envcheck.check(docs, sets, where)
    return errors


def cargo_packages(repo):
    out = subprocess.run(["cargo", "metadata", "--no-deps", "--format-version", "1", "--offline"],
                         cwd=repo, capture_output=True, text=True, check=True)
    return {p["name"]: (p["version"], p["description"], p["license"], p["repository"])
            for p in json.loads(out.stdout)["packages"] if p["name"] in envcheck.BINARIES}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repo", required=True)
    ap.add_argument("--bin-dir", required=True, help="directory with the cts-exporter and neo4j-sink binaries")
    ap.add_argument("--kustomize", help="kustomize binary; without it the raw files are checked instead")
    args = ap.parse_args()
    repo = os.path.abspath(args.repo)
    deploy = os.path.join(repo, "deploy")
    report = Report()

    schemas = k8s.Schemas(os.path.join(deploy, "schemas", "knative"))
    packages = cargo_packages(repo)
    sets = envcheck.env_sets(repo, args.bin_dir)
    kusts = [Kustomization(p) for p in sorted(glob.glob(os.path.join(deploy, "**", "kustomization.yaml"),
                                                        recursive=True))]
    check_files(deploy, repo, kusts, report)
    check_raw(deploy, kusts, schemas, report)
    overlays = sorted(os.path.basename(os.path.dirname(k.path)) for k in kusts
                      if os.path.basename(os.path.dirname(os.path.dirname(k.path))) == "overlays")
    if args.kustomize:
        for overlay in overlays:
            try:
                docs = render(args.kustomize, deploy, overlay)
            except (RuntimeError, yaml.YAMLError, subprocess.TimeoutExpired) as e:
                report.add(f"overlays/{overlay}: kustomize build", [str(e)])
                continue
            kinds = sorted({d["kind"] for d in docs})
            report.add(f"overlays/{overlay}: renders and checks out ({len(docs)} objects: {', '.join(kinds)})",
                       check_rendered(docs, f"overlays/{overlay}", schemas, sets, packages))
    else:
        print("SKIPPED - kustomize not available: overlays not rendered, raw files checked instead")
        docs = synthesized(kusts)
        report.add("raw manifests: references, variables and files",
                   k8s.references(docs, "raw") + envcheck.check(docs, sets, "raw"))
    report.add("Dockerfile agrees with scripts/images", dockerfile.check(os.path.join(repo, "Dockerfile"), packages))
    print(f"{report.passed} passed, {report.failed} failed")
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
