"""MCP Chat against the official Python SDK client (pip `mcp`, pinned in requirements.txt).

The Python SDK speaks 2026-07-28 by default (`mode="auto"`: `server/discover`, then every request
carries the client's capabilities) and 2025-11-25 with `mode="legacy"` (`initialize`, a session).
For each mode, over streamable HTTP and over stdio, with and without the MCP Apps extension
declared the way a View-rendering host does, this checks what the client is offered (the tools,
the View links), reads the View resource, calls `open_chat`, and chats: two members of one room,
a message from one received by the other's `wait_for_message`.

Usage: python interop.py MCP_CHAT_BINARY
Prints one line per case and ends with "interop: N passed, N failed"; exits 1 on any failure.
"""

from __future__ import annotations

import asyncio
import logging
import re
import subprocess
import sys
import threading
import traceback
from typing import Any

from mcp import Client
from mcp.client.extension import advertise
from mcp.client.stdio import StdioServerParameters

VIEW_URI = "ui://mcp-chat/room.html"
VIEW_MIME = "text/html;profile=mcp-app"
UI_EXTENSION = "io.modelcontextprotocol/ui"
LINKED = {"enter_queue", "join_room", "open_chat"}
VIEW_ONLY = {"open_chat", "load_room"}
CHAT_TOOLS = {
    "enter_queue",
    "leave_queue",
    "join_room",
    "send_message",
    "wait_for_message",
    "leave_chat",
    "get_history",
    "get_room",
    "create_invite",
    "revoke_invite",
    "remove_member",
    "close_room",
}
NEGOTIATED = {"auto": "2026-07-28", "legacy": "2025-11-25"}


def ok(result: Any, what: str) -> dict[str, Any]:
    if result.is_error:
        raise AssertionError(f"{what} failed: {result.content}")
    return result.structured_content


async def check(server: str | StdioServerParameters, mode: str, renders_views: bool, room: str) -> str:
    extensions = [advertise(UI_EXTENSION, {"mimeTypes": [VIEW_MIME]})] if renders_views else []
    async with Client(server, mode=mode, extensions=extensions) as client:
        assert client.protocol_version == NEGOTIATED[mode], client.protocol_version

        tools = (await client.list_tools()).tools
        names = {t.name for t in tools}
        # Over HTTP the server serves the browser page: a client without Views gets open_chat too,
        # answering with a link; over stdio there is no page.
        has_page = isinstance(server, str)
        if renders_views:
            expected = CHAT_TOOLS | VIEW_ONLY
        elif has_page:
            expected = CHAT_TOOLS | {"open_chat"}
        else:
            expected = CHAT_TOOLS
        assert names == expected, f"offered {sorted(names)}"
        for tool in tools:
            meta = tool.meta or {}
            ui = meta.get("ui") or {}
            linked = renders_views and tool.name in LINKED
            assert (ui.get("resourceUri") == VIEW_URI) == linked, f"{tool.name}: {meta}"
            assert (meta.get("ui/resourceUri") == VIEW_URI) == linked, f"{tool.name}: {meta}"
            assert (ui.get("visibility") == ["app"]) == (renders_views and tool.name == "load_room")
            schema = str(tool.input_schema)
            assert "'null'" not in schema, f"{tool.name} has a nullable type: {schema}"

        read = await client.read_resource(VIEW_URI)
        contents = read.contents[0]
        assert contents.mime_type == VIEW_MIME, contents.mime_type
        assert contents.text.lstrip().lower().startswith("<!doctype html>")

        ann = ok(await client.call_tool("join_room", {"room_id": room, "display_name": "Ann"}), "join_room")
        bob = ok(await client.call_tool("join_room", {"room_id": room, "display_name": "Bob"}), "join_room")
        ok(
            await client.call_tool("send_message", {"room_id": room, "client_id": ann["client_id"], "message": "hi"}),
            "send_message",
        )
        texts: list[str] = []
        while not texts:
            got = ok(
                await client.call_tool(
                    "wait_for_message", {"room_id": room, "client_id": bob["client_id"], "timeout": 10}
                ),
                "wait_for_message",
            )
            texts = [m["text"] for m in got["messages"] if m["kind"] == "chat"]
        assert texts == ["hi"], texts

        # A private room: refused by name, joined with an invitation, a member removed.
        private = f"{room}-private"
        made = ok(
            await client.call_tool(
                "join_room",
                {"room_id": private, "display_name": "Ann", "client_id": ann["client_id"], "private": True},
            ),
            "join_room private",
        )
        assert made["access"]["private"] and made["access"]["you_own"], made
        by_name = await client.call_tool(
            "join_room", {"room_id": private, "display_name": "Bob", "client_id": bob["client_id"]}
        )
        assert by_name.is_error and by_name.structured_content["code"] == "invite_required", by_name
        invite = ok(
            await client.call_tool("create_invite", {"room_id": private, "client_id": ann["client_id"]}),
            "create_invite",
        )
        joined = ok(
            await client.call_tool(
                "join_room", {"invite": invite["invite"], "display_name": "Bob", "client_id": bob["client_id"]}
            ),
            "join_room invite",
        )
        assert joined["room_id"] == private and joined["access"]["owner"]["display_name"] == "Ann", joined
        ok(
            await client.call_tool(
                "remove_member", {"room_id": private, "client_id": ann["client_id"], "user_id": bob["user_id"]}
            ),
            "remove_member",
        )
        refused = await client.call_tool(
            "send_message", {"room_id": private, "client_id": bob["client_id"], "message": "back?"}
        )
        assert refused.is_error and refused.structured_content["code"] == "removed", refused

        opened = await client.call_tool("open_chat", {"room_id": room, "client_id": ann["client_id"]})
        if renders_views:
            assert ok(opened, "open_chat")["room_id"] == room
            assert "url" not in ok(opened, "open_chat")
        elif has_page:
            url = ok(opened, "open_chat")["url"]
            assert "/chat#link=lnk_" in url and ann["client_id"] not in url, url
        else:
            assert opened.is_error and opened.structured_content["code"] == "view_required", opened
        return f"{len(names)} tools, {client.protocol_version}"


class Warnings(logging.Handler):
    """Collects what the SDK warns about (a refused session termination, say): a warning fails
    the case it came in."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.seen: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.seen.append(f"{record.name}: {record.getMessage()}")


async def main(binary: str) -> int:
    warnings = Warnings()
    logging.getLogger("mcp").addHandler(warnings)
    server = subprocess.Popen(
        [binary, "serve", "--bind", "127.0.0.1:0", "--store", "memory"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = None
        assert server.stderr is not None
        for line in server.stderr:
            found = re.search(r"listening on (http://\S+/mcp)", line)
            if found:
                url = found.group(1)
                break
        if url is None:
            print("interop: the server did not start", file=sys.stderr)
            return 1
        # Keep draining its log, or a full pipe would stall the server.
        threading.Thread(target=lambda: [None for _ in server.stderr], daemon=True).start()
        passed = failed = 0
        case = 0
        for mode in ("auto", "legacy"):
            for transport in ("http", "stdio"):
                for renders_views in (True, False):
                    case += 1
                    target: str | StdioServerParameters = (
                        url if transport == "http" else StdioServerParameters(command=binary, args=["stdio"], env={"RUST_LOG": "warn"})
                    )
                    label = f"mode={mode} {transport} {'with' if renders_views else 'without'} the extension"
                    try:
                        warnings.seen.clear()
                        said = await asyncio.wait_for(check(target, mode, renders_views, f"py-{case}"), 60)
                        assert not warnings.seen, f"the SDK warned: {warnings.seen}"
                        passed += 1
                        print(f"  ok    {label}: {said}")
                    except Exception:  # noqa: BLE001 - every failure is reported, then counted
                        failed += 1
                        print(f"  FAIL  {label}")
                        traceback.print_exc()
        print(f"interop: {passed} passed, {failed} failed")
        return 0 if failed == 0 else 1
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1])))
