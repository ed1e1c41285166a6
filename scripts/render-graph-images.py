#!/usr/bin/env python3
"""Helper of scripts/render-graph-images: loads the playbook sample traces into
a running neo4j-sink, and draws playbook answers (JSON from
`neo4j-sink query ... --format json`) as pictures for the docs.

    render-graph-images.py load --sink URL --fixture traces.json
    render-graph-images.py render --grass docs/neo4j-browser.grass \
        --life life.json --blast blast.json --graph graph.json --out docs/images

Colours come from the Neo4j Browser style file, so the pictures and the
Browser look alike. Needs matplotlib and networkx (the shell script installs
them into a virtual environment).
"""

import argparse
import datetime
import json
import re
import sys
import urllib.request


def load(args):
    """POSTs every fixture trace as one CloudEvents batch; the sink answers 202 after the commit."""
    with open(args.fixture, encoding="utf-8") as f:
        doc = json.load(f)
    events = []
    for entry in doc["traces"]:
        trace = dict(entry["trace"])
        when = datetime.datetime.strptime(trace["time"], "%Y-%m-%dT%H:%M:%SZ")
        trace["time"] = int(when.replace(tzinfo=datetime.timezone.utc).timestamp() * 1000)
        ctx = doc["contexts"][entry["project"]]
        events.append({
            "specversion": "1.0",
            "id": trace["trace_id"],
            "source": "render-graph-images",
            "type": "com.otc.cts.trace.v3",
            "datacontenttype": "application/json",
            "project": ctx["project_id"],
            "region": ctx["region"],
            "domain": ctx["domain_id"],
            "data": trace,
        })
    request = urllib.request.Request(
        args.sink,
        data=json.dumps(events).encode(),
        headers={"Content-Type": "application/cloudevents-batch+json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        if response.status != 202:
            sys.exit(f"the sink answered {response.status}: {response.read()[:500]!r}")
    print(f"loaded {len(events)} traces through {args.sink}", file=sys.stderr)


def grass_styles(path):
    """`node.Label { color: ...; border-color: ...; text-color-internal: ... }` per label."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    styles = {}
    for label, body in re.findall(r"node\.(\w+)\s*\{([^}]*)\}", text):
        props = dict(re.findall(r"([\w-]+)\s*:\s*([^;]+);", body))
        styles[label] = {
            "fill": props.get("color", "#A5ABB6").strip(),
            "edge": props.get("border-color", "#9AA1AC").strip(),
            "text": props.get("text-color-internal", "#FFFFFF").strip(),
        }
    if not styles:
        sys.exit(f"{path}: no node styles found")
    return styles


def rows(path):
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    return [dict(zip(doc["columns"], r)) for r in doc["rows"]]


def short_time(iso):
    return iso.replace("T", " ")[:16]


def draw(graph, pos, styles, ax, sizes, labels, font=8, failed=()):
    import networkx as nx

    for label, style in styles.items():
        nodes = [n for n, d in graph.nodes(data=True) if d["label"] == label]
        if not nodes:
            continue
        nx.draw_networkx_nodes(
            graph, pos, nodelist=nodes, ax=ax, node_color=style["fill"],
            edgecolors=["#D62728" if n in failed else style["edge"] for n in nodes],
            linewidths=[3.5 if n in failed else 1.5 for n in nodes],
            node_size=[sizes.get(label, 900) for _ in nodes],
        )
    nx.draw_networkx_edges(graph, pos, ax=ax, edge_color="#8A8F99", arrows=True,
                           arrowsize=10, width=1.0,
                           node_size=[sizes.get(d["label"], 900) for _, d in graph.nodes(data=True)])
    nx.draw_networkx_labels(graph, pos, labels=labels, ax=ax, font_size=font)


def legend(ax, styles, used):
    from matplotlib.patches import Patch

    handles = [Patch(facecolor=styles[l]["fill"], edgecolor=styles[l]["edge"], label=l)
               for l in styles if l in used]
    ax.legend(handles=handles, loc="upper right", fontsize=8, frameon=False)


def save(fig, path):
    import matplotlib

    matplotlib.rcParams["svg.hashsalt"] = "cloudtrace-exporter"
    meta = {"Date": None} if path.endswith(".svg") else {"Software": None}
    fig.savefig(path, metadata=meta, bbox_inches="tight", dpi=150)
    print(f"wrote {path}", file=sys.stderr)


def render_life(path_in, styles, out):
    import matplotlib.pyplot as plt
    import networkx as nx

    life = rows(path_in)
    if not life:
        sys.exit(f"{path_in}: resource-life gave no rows; is the sample data loaded?")
    g = nx.DiGraph()
    res = "resource"
    g.add_node(res, label="Resource")
    pos = {res: ((len(life) - 1) / 2, 2.0)}
    labels = {res: f"{life[-1]['name']}\n{life[0]['resourceKey'].split('/')[-1]}"}
    failed = set()
    users, ips = {}, {}
    for i, r in enumerate(life):
        a = f"action{i}"
        g.add_node(a, label="Action")
        pos[a] = (i, 1.0)
        labels[a] = f"{r['operation']}\n{short_time(r['time'])}\n({r['phase']})"
        if r["failed"]:
            failed.add(a)
        g.add_edge(a, res)
        users.setdefault(r["user"], []).append(i)
        g.add_edge(a, "user:" + r["user"])
        if r["sourceIp"]:
            ips.setdefault(r["sourceIp"], []).append(i)
            g.add_edge(a, "ip:" + r["sourceIp"])
    for name, xs in users.items():
        g.nodes["user:" + name]["label"] = "User"
        pos["user:" + name] = (sum(xs) / len(xs), 0.0)
        labels["user:" + name] = name
    for ip, xs in ips.items():
        g.nodes["ip:" + ip]["label"] = "IpAddress"
        pos["ip:" + ip] = (sum(xs) / len(xs) + 0.3, -1.0)
        labels["ip:" + ip] = ip
    fig, ax = plt.subplots(figsize=(max(8, 2.4 * len(life)), 6.5))
    draw(g, pos, styles, ax, {"Action": 4200, "Resource": 3600, "User": 2400, "IpAddress": 2200},
         labels, font=7, failed=failed)
    ax.set_title("Life of a resource (resource-life): every action, who, from where; "
                 "red ring = failed", fontsize=10)
    legend(ax, styles, {"Action", "Resource", "User", "IpAddress"})
    ax.margins(0.12)
    ax.axis("off")
    save(fig, f"{out}/resource-life.svg")
    plt.close(fig)


def render_blast(path_in, styles, out, user):
    import matplotlib.pyplot as plt
    import networkx as nx

    blast = rows(path_in)
    if not blast:
        sys.exit(f"{path_in}: blast-radius-resources gave no rows; is the sample data loaded?")
    g = nx.DiGraph()
    projects = sorted({r["project"] for r in blast})
    g.add_node("user", label="User")
    labels = {"user": user}
    pos = {}
    edge_labels = {}
    y = 0.0
    for p in projects:
        members = [r for r in blast if r["project"] == p]
        ys = []
        for r in members:
            n = f"res:{r['project']}/{r['resourceId'] or r['resource']}"
            g.add_node(n, label="Resource")
            pos[n] = (1.0, -y)
            ys.append(-y)
            labels[n] = f"{r['resource'] or r['resourceId']}\n{r['service']} {r['resourceType']}"
            g.add_edge("user", n)
            edge_labels[("user", n)] = ", ".join(r["operations"])
            g.add_edge(n, "tenant:" + p)
            y += 1.0
        g.nodes["tenant:" + p]["label"] = "Tenant"
        pos["tenant:" + p] = (2.0, sum(ys) / len(ys))
        labels["tenant:" + p] = p
        y += 0.4
    pos["user"] = (0.0, -(y - 1.4) / 2)
    fig, ax = plt.subplots(figsize=(11, max(4.5, 0.9 * len(blast) + 1.5)))
    draw(g, pos, styles, ax, {"User": 2600, "Resource": 2400, "Tenant": 3000}, labels, font=7)
    nx.draw_networkx_edge_labels(g, pos, edge_labels=edge_labels, ax=ax, font_size=7,
                                 label_pos=0.62, rotate=False)
    ax.set_title(f"Blast radius of {user} (blast-radius-resources): resources touched, "
                 "operations, projects", fontsize=10)
    legend(ax, styles, {"User", "Resource", "Tenant"})
    ax.margins(0.1)
    ax.axis("off")
    save(fig, f"{out}/blast-radius.svg")
    plt.close(fig)


def render_overview(path_in, styles, out):
    import matplotlib.pyplot as plt
    import networkx as nx

    edges = rows(path_in)
    if not edges:
        sys.exit(f"{path_in}: project-graph gave no rows; is the sample data loaded?")
    g = nx.DiGraph()
    captions = {}
    for e in edges:
        for side in ("from", "to"):
            key = e[side + "Key"]
            g.add_node(key, label=e[side + "Label"])
            captions[key] = e[side] or ""
        g.add_edge(e["fromKey"], e["toKey"], rel=e["relationship"])
    # Kamada-Kawai places nodes by graph distance: deterministic and without clumps.
    pos = nx.kamada_kawai_layout(g.to_undirected())
    labels = {n: captions[n] for n, d in g.nodes(data=True) if d["label"] != "Action"}
    fig, ax = plt.subplots(figsize=(16, 11))
    sizes = {"Action": 260, "User": 1500, "Resource": 900, "Tenant": 1900, "Region": 1500,
             "Domain": 1900, "Status": 900, "Service": 1100, "IpAddress": 900}
    draw(g, pos, styles, ax, sizes, labels, font=7)
    actions = sum(1 for _, d in g.nodes(data=True) if d["label"] == "Action")
    ax.set_title(f"The audit graph of the sample projects (project-graph): {actions} actions "
                 f"(small orange nodes), {g.number_of_nodes() - actions} other nodes, "
                 f"{g.number_of_edges()} relationships", fontsize=11)
    legend(ax, styles, {d["label"] for _, d in g.nodes(data=True)})
    ax.axis("off")
    save(fig, f"{out}/graph-overview.png")
    plt.close(fig)


def render(args):
    import matplotlib

    matplotlib.use("Agg")
    styles = grass_styles(args.grass)
    render_life(args.life, styles, args.out)
    render_blast(args.blast, styles, args.out, args.user)
    render_overview(args.graph, styles, args.out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("load")
    p.add_argument("--sink", required=True)
    p.add_argument("--fixture", required=True)
    p.set_defaults(run=load)
    p = sub.add_parser("render")
    for name in ("grass", "life", "blast", "graph", "out", "user"):
        p.add_argument("--" + name, required=True)
    p.set_defaults(run=render)
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
