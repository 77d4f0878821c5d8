#!/usr/bin/env python3
"""Pack hand-written tool code into a clawc transcript (format 1) that says it was written by hand.

    scripts/hand-transcript.py NAME DIR [--started RFC3339] > golden/NAME/transcript.jsonl

DIR holds the files as the generator would have written them: DIR/generated/tools.py and any
helper modules DIR/generated/*.py. `clawc build NAME --generator replay` then re-derives the
pinned tree from the transcript, running every example; the provenance it writes says the code
was hand-authored (author "hand", generator "hand", model "none").
"""
import argparse
import json
import os
import subprocess
import sys

NOTE = ("Written by hand by a clawc engineer and packed with scripts/hand-transcript.py; "
        "no model produced this code. The replay generator re-derives the pinned tree from it.")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("name")
    parser.add_argument("dir")
    parser.add_argument("--started", default="2026-12-03T00:00:00Z")
    parser.add_argument("--finished", default=None)
    args = parser.parse_args()
    generated = os.path.join(args.dir, "generated")
    files = sorted(f for f in os.listdir(generated) if f.endswith(".py"))
    if "tools.py" not in files:
        sys.exit("hand-transcript: %s/tools.py is missing" % generated)
    python = subprocess.run(["/usr/bin/python3", "--version"], capture_output=True,
                            text=True, check=True).stdout.strip()
    records = [
        {"type": "start", "format": 1, "integration": args.name, "author": "hand",
         "generator": "hand", "generator_version": "-", "model": "none",
         "started": args.started, "note": NOTE},
        {"type": "attempt", "attempt": 1},
    ]
    for name in files:
        with open(os.path.join(generated, name), encoding="utf-8") as f:
            records.append({"type": "file", "attempt": 1, "path": "generated/" + name,
                            "content": f.read()})
    records.append({"type": "result", "attempt": 1, "passed": True,
                    "usage": {"turns": 0, "input_tokens": 0, "output_tokens": 0,
                              "cost_usd": 0.0},
                    "python": python})
    records.append({"type": "end", "accepted": True, "attempts": 1,
                    "finished": args.finished or args.started})
    for record in records:
        sys.stdout.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")


if __name__ == "__main__":
    main()
