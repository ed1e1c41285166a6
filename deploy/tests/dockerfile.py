"""Keeps the Dockerfile in step with `scripts/images build`, which cannot be compared by running
Docker here: both must give each image the same user, entrypoint, port, labels and version."""

import re

LABELS = ("title", "description", "version", "revision", "created", "source", "url", "licenses")
PORTS = {"cts-exporter": "9090/tcp", "neo4j-sink": "8080/tcp"}


def _instructions(text):
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    lines, current = [], ""
    for raw in text.splitlines():
        if not current and (not raw.strip() or raw.lstrip().startswith("#")):
            continue
        if raw.rstrip().endswith("\\"):
            current += raw.rstrip()[:-1] + " "
            continue
        current += raw
        word, _, rest = current.strip().partition(" ")
        lines.append((word.upper(), rest.strip()))
        current = ""
    return lines


def _stages(text):
    stages, name = {}, None
    for word, rest in _instructions(text):
        if word == "FROM":
            m = re.search(r"\bAS\s+(\S+)", rest, re.I)
            name = m.group(1) if m else rest
            stages[name] = {"FROM": rest.split()[0] if rest else "", "LABEL": {}, "ARG": {}}
        elif name is not None:
            stage = stages[name]
            if word == "LABEL":
                for k, v in re.findall(r'(\S+?)="([^"]*)"', rest):
                    stage["LABEL"][k] = v
            elif word == "ARG":
                k, _, v = rest.partition("=")
                stage["ARG"][k] = v
            else:
                stage.setdefault(word, []).append(rest)
    return stages


def check(path, packages):
    """Errors of the Dockerfile at path; packages maps a binary to (version, description, license, repo)."""
    with open(path) as f:
        stages = _stages(f.read())
    errors = []
    for name, (version, description, license_, repository) in packages.items():
        stage = stages.get(name)
        if stage is None:
            errors.append(f"Dockerfile: no final stage named {name} (FROM scratch AS {name})")
            continue
        where = f"Dockerfile stage {name}"
        expect = {
            "FROM": (stage["FROM"], "scratch"),
            "USER": (stage.get("USER"), ["65532:65532"]),
            "ENTRYPOINT": (stage.get("ENTRYPOINT"), [f'["/usr/local/bin/{name}"]']),
            "EXPOSE": (stage.get("EXPOSE"), [PORTS[name]]),
            "WORKDIR": (stage.get("WORKDIR"), ["/home/nonroot"]),
            "ENV": (stage.get("ENV"), ["HOME=/home/nonroot"]),
            "COPY": (stage.get("COPY"), [f"--from=build /rootfs/{name}/ /"]),
            "ARG VERSION": (stage["ARG"].get("VERSION"), version),
        }
        for what, (got, want) in expect.items():
            if got != want:
                errors.append(f"{where}: {what} is {got!r}, expected {want!r} (as scripts/images build makes it)")
        labels = stage["LABEL"]
        missing = [k for k in LABELS if f"org.opencontainers.image.{k}" not in labels]
        if missing:
            errors.append(f"{where}: labels missing: {missing}")
        fixed = {"title": name, "description": description, "licenses": license_, "source": repository,
                 "url": repository, "version": "${VERSION}"}
        for k, want in fixed.items():
            got = labels.get(f"org.opencontainers.image.{k}")
            if got is not None and got != want:
                errors.append(f"{where}: label {k} is {got!r}, Cargo.toml says {want!r}")
    build = stages.get("build")
    if build is None or not all(f"scripts/images rootfs target/release/{n} /rootfs/{n}" in " ".join(build.get("RUN", []))
                                for n in packages):
        errors.append("Dockerfile: the build stage must assemble the trees with `scripts/images rootfs`")
    return errors
