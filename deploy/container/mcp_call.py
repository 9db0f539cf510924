#!/usr/bin/env python3
"""A minimal MCP Streamable HTTP client (standard library only), for checks
from outside a running moat server: scripts/test-container.sh and the replica
measurements in docs/fleet.md use it.

    mcp_call.py URL TOOL JSON_ARGUMENTS     one tool call; prints the result as JSON
    mcp_call.py URL --status                the HTTP status of an initialize, nothing else

The token comes from the MOAT_TOKEN environment variable (unset: no
Authorization header). It speaks the 2025-11-25 lifecycle: initialize,
notifications/initialized, then tools/call, carrying Mcp-Session-Id when the
server hands one out (a --stateless server does not) and reading either a
JSON body or an SSE stream. Exits 1 with a one-line reason on any failure,
including a tool result with isError set.
"""

import json
import os
import sys
import urllib.error
import urllib.request

PROTOCOL_VERSION = "2025-11-25"
# A browser render has its own 15 s deadline in moat; this is the outer bound.
TIMEOUT_SECS = 60


def post(url, body, session=None):
    headers = {
        "Content-Type": "application/json",
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": PROTOCOL_VERSION,
    }
    token = os.environ.get("MOAT_TOKEN")
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if session:
        headers["Mcp-Session-Id"] = session
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers=headers, method="POST"
    )
    return urllib.request.urlopen(request, timeout=TIMEOUT_SECS)


def answer(response, request_id):
    """The JSON-RPC response with `request_id`, from a JSON body or SSE."""
    text = response.read().decode()
    if response.headers.get("Content-Type", "").startswith("text/event-stream"):
        messages = [
            json.loads(line[len("data:"):])
            for line in text.splitlines()
            if line.startswith("data:") and line[len("data:"):].strip()
        ]
    else:
        messages = [json.loads(text)]
    for message in messages:
        if message.get("id") == request_id:
            if "error" in message:
                raise SystemExit(f"error: {message['error']}")
            return message["result"]
    raise SystemExit(f"error: no response with id {request_id} in {text[:200]!r}")


def initialize(url):
    response = post(
        url,
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": PROTOCOL_VERSION,
                "capabilities": {},
                "clientInfo": {"name": "moat-mcp-call", "version": "0"},
            },
        },
    )
    session = response.headers.get("Mcp-Session-Id")
    answer(response, 1)
    post(url, {"jsonrpc": "2.0", "method": "notifications/initialized"}, session).read()
    return session


def main():
    if len(sys.argv) == 3 and sys.argv[2] == "--status":
        try:
            initialize(sys.argv[1])
            print(200)
        except urllib.error.HTTPError as error:
            print(error.code)
        return
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    url, tool, arguments = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    try:
        session = initialize(url)
        response = post(
            url,
            {
                "jsonrpc": "2.0",
                "id": 2,
                "method": "tools/call",
                "params": {"name": tool, "arguments": arguments},
            },
            session,
        )
        result = answer(response, 2)
    except urllib.error.HTTPError as error:
        raise SystemExit(f"error: HTTP {error.code} from {url}: {error.read()[:200]!r}")
    except OSError as error:
        raise SystemExit(f"error: {url}: {error}")
    print(json.dumps(result))
    if result.get("isError"):
        raise SystemExit(f"error: the {tool} call failed: {result['content'][0].get('text', '')[:300]}")


if __name__ == "__main__":
    main()
