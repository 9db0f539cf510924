"""Official MCP Python SDK as a client of a moat server.

usage: python_client.py stdio BINARY ROOT
       python_client.py http URL ROOT        (Streamable HTTP, .../mcp)
       python_client.py sse URL ROOT         (legacy HTTP+SSE, .../sse)

Initialises, lists tools, calls read_text_file on ROOT/hello.txt, and prints
one JSON line with what it saw. Exits non-zero on any failure.
"""

import asyncio
import json
import sys

from mcp.client.session import ClientSession
from mcp.client.sse import sse_client
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client


async def exercise(read, write, root):
    async with ClientSession(read, write) as session:
        init = await session.initialize()
        tools = await session.list_tools()
        result = await session.call_tool("read_text_file", {"path": f"{root}/hello.txt"})
        text = "".join(block.text for block in result.content if getattr(block, "type", "") == "text")
        return {
            "server": init.server_info.name,
            "protocol": init.protocol_version,
            "tools": sorted(tool.name for tool in tools.tools),
            "is_error": bool(result.is_error),
            "text": text,
        }


async def main():
    mode, target, root = sys.argv[1:4]
    if mode == "stdio":
        params = StdioServerParameters(command=target, args=[root], env={"RUST_LOG": "warn"})
        async with stdio_client(params) as streams:
            report = await exercise(streams[0], streams[1], root)
    elif mode == "http":
        async with streamable_http_client(target) as streams:
            report = await exercise(streams[0], streams[1], root)
    elif mode == "sse":
        async with sse_client(target) as streams:
            report = await exercise(streams[0], streams[1], root)
    else:
        raise SystemExit(f"unknown mode {mode}")
    print(json.dumps(report))


asyncio.run(main())
