#!/usr/bin/env python3
"""Turn a fleet's urls.txt into a linkpatrol topology: one service per endpoint, an http probe.

usage: fleet_topology.py URLS_TXT [OUT_YAML] [--concurrency N] [--per-host N]
The probe settings match the fleet's ground truth: timeout 2s, retries 0, slow high enough
not to matter (delayed endpoints answer in ~200 ms and count as up).
"""
import argparse
import sys


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("urls")
    ap.add_argument("out", nargs="?")
    ap.add_argument("--concurrency", type=int, default=256)
    ap.add_argument("--per-host", type=int, default=256)
    a = ap.parse_args()
    with open(a.urls) as f:
        urls = [line.strip() for line in f if line.strip()]
    lines = [
        "version: 1",
        "name: bench-fleet",
        "defaults:",
        "  timeout: 2s",
        "  retries: 0",
        "  slow: 10s",
        f"  concurrency: {a.concurrency}",
        f"  per_host: {a.per_host}",
        "services:",
    ]
    for i, url in enumerate(urls):
        lines.append(f"  ep-{i:05d}:")
        lines.append(f"    probe: {{ http: {{ url: \"{url}\" }} }}")
    text = "\n".join(lines) + "\n"
    if a.out:
        with open(a.out, "w") as f:
            f.write(text)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
