"""Official MCP Python SDK as a client of a moat server.

usage: python_client.py stdio BINARY TOOL ARGUMENTS_JSON [SERVER_ARG...]
       python_client.py http URL TOOL ARGUMENTS_JSON   (Streamable HTTP, .../mcp)
       python_client.py sse URL TOOL ARGUMENTS_JSON    (legacy HTTP+SSE, .../sse)

Initialises, lists tools, calls TOOL with ARGUMENTS_JSON, and prints one JSON
line with what it saw. Over stdio it starts BINARY SERVER_ARG... itself.
Exits non-zero on any failure.
"""

import asyncio
import json
import sys

from mcp.client.session import ClientSession
from mcp.client.sse import sse_client
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client


async def exercise(read, write, tool, arguments):
    async with ClientSession(read, write) as session:
        init = await session.initialize()
        tools = await session.list_tools()
        result = await session.call_tool(tool, arguments)
        text = "".join(block.text for block in result.content if getattr(block, "type", "") == "text")
        return {
            "server": init.server_info.name,
            "protocol": init.protocol_version,
            "tools": sorted(tool.name for tool in tools.tools),
            "is_error": bool(result.is_error),
            "text": text,
        }


async def main():
    mode, target, tool, arguments = sys.argv[1:5]
    arguments = json.loads(arguments)
    if mode == "stdio":
        params = StdioServerParameters(command=target, args=sys.argv[5:], env={"RUST_LOG": "warn"})
        async with stdio_client(params) as streams:
            report = await exercise(streams[0], streams[1], tool, arguments)
    elif mode == "http":
        async with streamable_http_client(target) as streams:
            report = await exercise(streams[0], streams[1], tool, arguments)
    elif mode == "sse":
        async with sse_client(target) as streams:
            report = await exercise(streams[0], streams[1], tool, arguments)
    else:
        raise SystemExit(f"unknown mode {mode}")
    print(json.dumps(report))


asyncio.run(main())
