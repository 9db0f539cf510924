#!/usr/bin/env python3
"""Calls per second one moat-scrape replica sustains, for sizing the fleet
(docs/fleet.md). Standard library only.

    scrape_load.py MCP_URL PAGE_URL SECONDS CONCURRENCY [http|browser]

CONCURRENCY clients each send stateless `tools/call scrape` requests back to
back on one keep-alive connection (how clients reach a --stateless fleet
through a load balancer) for SECONDS, each for PAGE_URL with a distinct query
string so no call is answered from the page cache. The token comes from
MOAT_TOKEN. Prints completed calls, calls/s, failures and latency percentiles
as one JSON line; exits 1 if any call failed.
"""

import http.client
import json
import os
import sys
import threading
import time
import urllib.parse

# Longest a single call may take before it counts as failed.
CALL_TIMEOUT_SECS = 60


def client(mcp, page, render, deadline, worker, results):
    target = urllib.parse.urlsplit(mcp)
    headers = {
        "Content-Type": "application/json",
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": "2025-11-25",
        "Authorization": f"Bearer {os.environ.get('MOAT_TOKEN', '')}",
    }
    connection = http.client.HTTPConnection(target.hostname, target.port, timeout=CALL_TIMEOUT_SECS)
    sent = 0
    while time.monotonic() < deadline:
        sent += 1
        body = {
            "jsonrpc": "2.0",
            "id": sent,
            "method": "tools/call",
            "params": {
                "name": "scrape",
                "arguments": {"url": f"{page}?w={worker}&n={sent}", "render": render},
            },
        }
        started = time.monotonic()
        try:
            connection.request("POST", target.path, json.dumps(body), headers)
            response = connection.getresponse()
            answer = json.loads(response.read())
            ok = response.status == 200 and not answer.get("result", {}).get("isError", True)
        except (OSError, http.client.HTTPException, ValueError):
            connection.close()
            connection = http.client.HTTPConnection(target.hostname, target.port, timeout=CALL_TIMEOUT_SECS)
            ok = False
        results.append((ok, time.monotonic() - started))


def main():
    if len(sys.argv) not in (5, 6):
        raise SystemExit(__doc__)
    mcp, page, seconds, concurrency = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
    render = sys.argv[5] if len(sys.argv) == 6 else "http"
    results = []
    started = time.monotonic()
    deadline = started + seconds
    threads = [
        threading.Thread(target=client, args=(mcp, page, render, deadline, worker, results))
        for worker in range(concurrency)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    latencies = sorted(latency for ok, latency in results if ok)
    failed = sum(1 for ok, _ in results if not ok)

    def percentile(fraction):
        return round(latencies[int(fraction * (len(latencies) - 1))] * 1000) if latencies else None

    print(json.dumps({
        "render": render,
        "concurrency": concurrency,
        "seconds": round(elapsed, 1),
        "calls": len(latencies),
        "calls_per_second": round(len(latencies) / elapsed, 1),
        "failed": failed,
        "p50_ms": percentile(0.5),
        "p95_ms": percentile(0.95),
    }))
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
