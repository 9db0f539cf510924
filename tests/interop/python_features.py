"""Official MCP Python SDK exercising moat-fs's confirmations and resources.

usage: python_features.py confirm TRANSPORT TARGET ANSWER TOOL ARGUMENTS_JSON [SERVER_ARG...]
       python_features.py subscribe TRANSPORT TARGET URI FILE [SERVER_ARG...]
       python_features.py roots TRANSPORT TARGET FIRST_ROOT_URI SECOND_ROOT_URI [SERVER_ARG...]

TRANSPORT is stdio (TARGET is the binary, started with SERVER_ARG...) or
http (TARGET is the Streamable HTTP URL).

confirm: a client whose elicitation callback answers ANSWER (accept,
decline or cancel; none declares no elicitation capability) calls TOOL and
prints {"asked": [...], "is_error": ..., "text": ...}.

subscribe: lists resources and templates, reads URI, subscribes to it,
appends a line to FILE from this process (not the server), waits for
notifications/resources/updated, and prints what it saw. It gives up after
WAIT_SECONDS, far past any debounce, so only a server that never notifies
fails.

roots: a client whose MCP roots are FIRST_ROOT_URI, then SECOND_ROOT_URI
(announced with notifications/roots/list_changed), lists tools after each
notifications/tools/list_changed and prints both lists.

Exits non-zero on any failure.
"""

import asyncio
import json
import sys

import anyio
from mcp import types
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client

WAIT_SECONDS = 30


def connect(transport, target, server_args):
    if transport == "stdio":
        params = StdioServerParameters(command=target, args=server_args, env={"RUST_LOG": "warn"})
        return stdio_client(params)
    if transport == "http":
        return streamable_http_client(target)
    raise SystemExit(f"unknown transport {transport}")


def text_of(result):
    return "".join(block.text for block in result.content if getattr(block, "type", "") == "text")


async def confirm(transport, target, answer, tool, arguments, server_args):
    asked = []

    async def on_elicit(context, params):
        asked.append(params.message)
        if answer == "accept":
            return types.ElicitResult(action="accept", content={"confirm": True})
        return types.ElicitResult(action=answer)

    callback = None if answer == "none" else on_elicit
    async with connect(transport, target, server_args) as streams:
        async with ClientSession(streams[0], streams[1], elicitation_callback=callback) as session:
            await session.initialize()
            result = await session.call_tool(tool, arguments)
            return {"asked": asked, "is_error": bool(result.is_error), "text": text_of(result)}


async def subscribe(transport, target, uri, path, server_args):
    updated = []
    changed = anyio.Event()

    async def on_message(message):
        if getattr(message, "method", "") == "notifications/resources/updated":
            updated.append(message.params.uri)
            changed.set()

    async with connect(transport, target, server_args) as streams:
        async with ClientSession(streams[0], streams[1], message_handler=on_message) as session:
            init = await session.initialize()
            resources = await session.list_resources()
            templates = await session.list_resource_templates()
            read = await session.read_resource(uri)
            await session.subscribe_resource(uri)
            with open(path, "a", encoding="utf-8") as file:
                file.write("changed by another process\n")
            with anyio.move_on_after(WAIT_SECONDS):
                await changed.wait()
            await session.unsubscribe_resource(uri)
            caps = init.capabilities.resources
            return {
                "subscribe_capability": bool(caps and caps.subscribe),
                "resources": [resource.uri for resource in resources.resources],
                "templates": [template.uri_template for template in templates.resource_templates],
                "read": [getattr(content, "text", None) for content in read.contents],
                "mime": [content.mime_type for content in read.contents],
                "updated": updated,
            }


async def roots(transport, target, first, second, server_args):
    current = [first]
    changes = []
    changed = anyio.Event()

    async def on_roots(context):
        return types.ListRootsResult(roots=[types.Root(uri=current[0])])

    async def on_message(message):
        nonlocal changed
        if getattr(message, "method", "") == "notifications/tools/list_changed":
            changes.append(current[0])
            changed.set()

    async def next_change():
        nonlocal changed
        with anyio.fail_after(WAIT_SECONDS):
            await changed.wait()
        changed = anyio.Event()

    async with connect(transport, target, server_args) as streams:
        async with ClientSession(
            streams[0], streams[1], list_roots_callback=on_roots, message_handler=on_message
        ) as session:
            init = await session.initialize()
            await next_change()
            before = await session.list_tools()
            current[0] = second
            await session.send_roots_list_changed()
            await next_change()
            after = await session.list_tools()
            caps = init.capabilities.tools
            return {
                "list_changed_capability": bool(caps and caps.list_changed),
                "before": sorted(tool.name for tool in before.tools),
                "after": sorted(tool.name for tool in after.tools),
                "changes": changes,
            }


async def main():
    command, transport, target = sys.argv[1:4]
    if command == "confirm":
        answer, tool, arguments = sys.argv[4:7]
        report = await confirm(transport, target, answer, tool, json.loads(arguments), sys.argv[7:])
    elif command == "subscribe":
        uri, path = sys.argv[4:6]
        report = await subscribe(transport, target, uri, path, sys.argv[6:])
    elif command == "roots":
        first, second = sys.argv[4:6]
        report = await roots(transport, target, first, second, sys.argv[6:])
    else:
        raise SystemExit(f"unknown command {command}")
    print(json.dumps(report))


asyncio.run(main())
