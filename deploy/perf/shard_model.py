#!/usr/bin/env python3
"""Throughput of a ledger sharded over several Postgres primaries (ADR 0014, "Past one primary").

A discrete-event simulation of the design on paper: each shard is one primary with one
elected writer that group-commits (a batch of B transfers takes `a + b*B` seconds and
everything queued meanwhile forms the next batch, up to `max_batch`). Clients run closed
loops (one request in flight each, `rtt` seconds of network and HTTP between requests), as
many per shard as the one-shard run has, since shards are added when the load grows. A
transfer between two accounts of one shard is one commit; a cross-shard transfer is the
linked two-phase pair: a pending debit to the transit account on the source shard, the
credit from transit on the destination shard, then the post of the pending debit on the
source — three commits, one after the other.

The defaults come from this repository's own measurements (docs/perf/ledger.md); pass
others on the command line. Prints committed transfers per second for each shard count and
cross-shard share. Figures, not promises: it models the database's commit path only.

    deploy/perf/shard_model.py [--a 0.003] [--b 0.000031] [--clients-per-shard 256] [--rtt 0.002]
"""

import argparse
import heapq
import random


def simulate(shards, cross, a, b, clients, rtt, max_batch, seconds, seed=7):
    rng = random.Random(seed)
    queue = [[] for _ in range(shards)]  # per shard: waiting (client, step) items
    busy = [False] * shards
    events = []  # (time, seq, kind, payload)
    seq = 0
    done = 0

    def push(time, kind, payload):
        nonlocal seq
        seq += 1
        heapq.heappush(events, (time, seq, kind, payload))

    def new_transfer(client, now):
        source = rng.randrange(shards)
        if shards > 1 and rng.random() < cross:
            target = rng.choice([s for s in range(shards) if s != source])
            steps = [source, target, source]
        else:
            steps = [source]
        push(now + rtt, "arrive", (client, steps))

    def start_batch(shard, now):
        batch = queue[shard][:max_batch]
        del queue[shard][: len(batch)]
        busy[shard] = True
        push(now + a + b * len(batch), "commit", (shard, batch))

    for client in range(clients):
        new_transfer(client, rng.random() * rtt)
    while events:
        now, _, kind, payload = heapq.heappop(events)
        if now > seconds:
            break
        if kind == "arrive":
            client, steps = payload
            shard = steps[0]
            queue[shard].append((client, steps))
            if not busy[shard]:
                start_batch(shard, now)
        else:
            shard, batch = payload
            busy[shard] = False
            for client, steps in batch:
                if len(steps) > 1:
                    # The next step of a cross-shard pair, after one internal hop.
                    push(now + rtt / 2, "arrive", (client, steps[1:]))
                else:
                    done += 1
                    new_transfer(client, now)
            if queue[shard]:
                start_batch(shard, now)
    return done / seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--a", type=float, default=0.003, help="fixed cost of one batch commit, s")
    parser.add_argument("--b", type=float, default=0.000031, help="cost per transfer in a batch, s")
    parser.add_argument("--clients-per-shard", type=int, default=256)
    parser.add_argument("--rtt", type=float, default=0.002, help="client round trip outside the commit, s")
    parser.add_argument("--max-batch", type=int, default=8189)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    shard_counts = [1, 2, 4, 8]
    shares = [0.0, 0.1, 0.3, 0.5]
    print(f"commit = {args.a * 1e3:.2f} ms + {args.b * 1e6:.1f} us/transfer, {args.clients_per_shard} clients per shard, rtt {args.rtt * 1e3:.1f} ms")
    print("cross-shard  " + "  ".join(f"{n:>2} shard(s)" for n in shard_counts))
    for cross in shares:
        rates = [
            simulate(n, cross, args.a, args.b, args.clients_per_shard * n, args.rtt, args.max_batch, args.seconds)
            for n in shard_counts
        ]
        base = rates[0]
        cells = "  ".join(f"{r:>7.0f} {r / base:>3.1f}x" for r in rates)
        print(f"{cross:>10.0%}  {cells}")


if __name__ == "__main__":
    main()
