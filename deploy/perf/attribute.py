#!/usr/bin/env python3
"""Attributes the samples of a `perf script -F ip,sym` dump to the parts of a service's
request path: each sample goes to the first part, from the leaf outward, that one of its
frames belongs to (so a write syscall made by the Redis client counts as Redis).

    perf record -e cpu-clock -F 1999 --call-graph dwarf,16384 -p PID -o gw.data -- sleep 5
    perf script -i gw.data -F ip,sym | deploy/perf/attribute.py

Build with `--profile profiling` (release code with symbols) for readable stacks.
"""
import collections
import re
import sys

PARTS = [
    ("logs and traces", r"tracing_subscriber|tracing_opentelemetry|opentelemetry|sharded_slab|tracing_core|tracing::span|Instrumented"),
    ("metrics", r"metrics_exporter|metrics_util|metrics::|record_metrics"),
    ("service token (JWT)", r"jsonwebtoken|ServiceTokens::mint|aws_lc"),
    ("Redis client", r"redis::"),
    ("upstream client (reqwest, hyper client)", r"reqwest::|hyper_util::client|hyper::client|aex_common::http_client"),
    ("idempotency", r"aex_gateway::idempotency"),
    ("authentication", r"aex_gateway::auth"),
    ("rate limit", r"aex_gateway::ratelimit"),
    ("proxy handler", r"aex_gateway::http::proxy"),
    ("input checks", r"aex_common::server::input"),
    ("HTTP/1 server (hyper)", r"hyper::proto::h1|hyper::server|httparse"),
    ("tokio runtime", r"tokio::runtime|tokio::sync|parking|futex"),
    ("axum and tower layers", r"axum::|tower::|tower_http"),
]


def symbol(line):
    fields = line.strip().split(None, 1)
    return fields[1] if len(fields) > 1 else ""


def main():
    counts = collections.Counter()
    samples = 0
    for block in sys.stdin.read().split("\n\n"):
        frames = [symbol(line) for line in block.strip().split("\n") if line.strip()]
        if not frames:
            continue
        samples += 1
        part = next(
            (name for frame in frames for name, pattern in PARTS if re.search(pattern, frame)),
            "other",
        )
        counts[part] += 1
    if samples == 0:
        sys.exit("no samples on standard input")
    print(f"{samples} samples")
    for part, count in counts.most_common():
        print(f"{100 * count / samples:5.1f} %  {part}")


if __name__ == "__main__":
    main()
