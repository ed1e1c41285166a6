"""Writes an OBS-layout CTS archive of traces full of random Unicode, for scripts/unicode-million.

Every trace id starts with the run prefix, followed by its number and random text, so the run's traces can
be found in Neo4j and compared with the ids this script writes to the --ids file (one JSON string per line).

Text is drawn from every plane of Unicode (no surrogates), hostile picks (RTL overrides, NUL and other
controls, quotes, percent signs that look like escapes, emoji, umlauts and ß) and, rarely, 10 KB values.

    python3 gen_archive.py --out DIR --ids IDS --count 1000000 --prefix RUN [--seed 7] [--per-file 10000]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import time

HOSTILE = [
    "bücket-名前-\u202e",
    "jürgen",
    "Jürgen Weiß",
    "Straße 5 \"quoted\" 100%",
    "%C3%BC not an escape",
    "%zz%",
    "🦀🚀",
    "\u200fمرحبا",
    "tab\tnew\nline\r\u0000nul",
    "кириллица",
    "Ελληνικά",
    "日本語のバケット",
    "  padded  ",
    "\u007f\u0085\u2028",
]

SERVICES = ["ECS", "EVS", "VPC", "OBS", "IAM", "RDS", "CCE", "KMS", "CTS", "ELB"]


def random_char(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.35:
        return chr(rng.randint(0x20, 0x7E))
    if r < 0.55:
        return chr(rng.choice([0xE4, 0xF6, 0xFC, 0xC4, 0xD6, 0xDC, 0xDF, 0xE9]))
    if r < 0.65:
        return chr(rng.randint(0x0, 0x1F))
    if r < 0.85:
        return chr(rng.randint(0x80, 0xD7FF))
    cp = rng.randint(0xE000, 0x10FFFF)
    return chr(cp)


def random_text(rng: random.Random, long_share: float) -> str:
    r = rng.random()
    if r < long_share:
        return "".join(random_char(rng) for _ in range(rng.randint(4, 12))) * rng.randint(900, 1300)
    if r < 0.15:
        return rng.choice(HOSTILE)
    return "".join(random_char(rng) for _ in range(rng.randint(1, 40)))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    p.add_argument("--ids", required=True, help="file for the trace ids, one JSON string per line")
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--prefix", required=True)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--per-file", type=int, default=10_000)
    p.add_argument("--long-share", type=float, default=0.0001)
    p.add_argument("--domain-id", default="cc2d87d27147ba8934614f2ccc84a766")
    a = p.parse_args()

    rng = random.Random(a.seed)
    users = [random_text(rng, 0.0) for _ in range(5000)]
    now = int(time.time() * 1000)
    leaf = os.path.join(a.out, "CloudTraces", "eu-de", "2026", "12", "7", "system", "ALL")
    os.makedirs(leaf, exist_ok=True)
    with open(a.ids, "w", encoding="utf-8") as ids:
        for start in range(0, a.count, a.per_file):
            traces = []
            for n in range(start, min(start + a.per_file, a.count)):
                tid = f"{a.prefix}-{n}-{random_text(rng, 0.0)}-e"
                t = now - (a.count - n) * 10
                traces.append(
                    {
                        "trace_id": tid,
                        "trace_name": random_text(rng, 0.0) if rng.random() < 0.3 else "deleteServer",
                        "trace_type": "ApiCall",
                        "trace_rating": rng.choice(["normal", "normal", "normal", "warning", "incident"]),
                        "service_type": random_text(rng, 0.0) if rng.random() < 0.05 else rng.choice(SERVICES),
                        "resource_type": random_text(rng, 0.0) if rng.random() < 0.2 else "server",
                        "resource_id": random_text(rng, a.long_share),
                        "resource_name": random_text(rng, a.long_share),
                        "request_id": random_text(rng, a.long_share),
                        "source_ip": f"198.51.100.{n % 250}",
                        "code": rng.choice(["200", "202", "403", "404"]),
                        "time": t,
                        "record_time": t,
                        "user": {
                            "id": f"uid-{n % 5000}",
                            "name": users[n % len(users)],
                            "domain": {"id": a.domain_id, "name": "OTC00000000001000000001"},
                        },
                    }
                )
                ids.write(json.dumps(tid) + "\n")
            name = f"ecs_CloudTrace_eu-de_2026-12-07T10-00-00Z_{start // a.per_file:06x}.json.gz"
            with gzip.open(os.path.join(leaf, name), "wt", encoding="utf-8") as f:
                json.dump(traces, f, ensure_ascii=False)


if __name__ == "__main__":
    main()
