"""Reads a CloudEvents batch (application/cloudevents-batch+json) with Python's `cloudevents` SDK.

The SDK (cloudevents 2.2.0) has no batch reader, so the body is parsed as the JSON event format 1.0.2
section 4 describes it: a JSON array whose every element is a structured event, and each element is read
by the SDK's own JSON-format reader (`JSONFormat.read`), which builds a v1.0 `CloudEvent` and validates its
attributes. Prints, as one JSON document on stdout, what the SDK read for each event, in order:
attributes (time as epoch milliseconds), and data as {"json": value} | {"text": str} | {"base64": str}
| null. Any problem exits 1 with the reason on stderr.

Used by ce-delivery/tests/python_batch.rs:  python read_batch.py < body.json
"""

from __future__ import annotations

import base64
import json
import sys
from datetime import datetime

from cloudevents.core.formats.json import JSONFormat


def main() -> int:
    body = sys.stdin.buffer.read()
    try:
        elements = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        print(f"the batch is not UTF-8 JSON: {e}", file=sys.stderr)
        return 1
    if not isinstance(elements, list):
        print(f"the batch is not a JSON array but {type(elements).__name__}", file=sys.stderr)
        return 1
    fmt = JSONFormat()
    out = []
    for i, element in enumerate(elements):
        if not isinstance(element, dict):
            print(f"element {i} is not a JSON object", file=sys.stderr)
            return 1
        try:
            event = fmt.read(None, json.dumps(element))
        except Exception as e:  # the SDK's validation errors have no common base class
            print(f"element {i}: the SDK refused it: {type(e).__name__}: {e}", file=sys.stderr)
            return 1
        attributes = {}
        for name, value in event.get_attributes().items():
            if isinstance(value, datetime):
                value = round(value.timestamp() * 1000)
            attributes[name] = value
        data = event.get_data()
        if data is None:
            shown = None
        elif isinstance(data, (bytes, bytearray)):
            shown = {"base64": base64.b64encode(data).decode("ascii")}
        elif isinstance(data, str):
            shown = {"text": data}
        else:
            shown = {"json": data}
        out.append({"attributes": attributes, "data": shown})
    json.dump(out, sys.stdout, ensure_ascii=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
