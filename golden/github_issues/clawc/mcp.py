"""The MCP server loop: JSON-RPC 2.0 over stdio, one message per line (revision 2025-11-25).

clawc's acceptance harness and gateway are its only clients; they validate every argument and
result against the spec's schemas, so this loop only dispatches: `tools/list` from tools.json,
`tools/call` to the function of the same name in generated/tools.py, its dict returned as
`structuredContent`, an exception as a tool error (`isError`), the traceback to stderr only.
Rendered by clawc for github_issues; do not edit.
"""
import json
import os
import sys
import traceback

from . import Context, ToolError

PROTOCOL_VERSION = "2025-11-25"
SUPPORTED_VERSIONS = ("2025-11-25", "2025-06-18", "2025-03-26")
SERVER_INFO = {"name": "github_issues", "version": "0.1.0"}

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602


def _load_tools():
    with open(os.path.join(os.path.dirname(__file__), "tools.json"), encoding="utf-8") as f:
        return json.load(f)


def _send(message):
    sys.stdout.write(json.dumps(message, ensure_ascii=False, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def _error(id_, code, message):
    _send({"jsonrpc": "2.0", "id": id_, "error": {"code": code, "message": message}})


def _tool_error(text):
    return {"content": [{"type": "text", "text": text}], "isError": True}


def _call(functions, config, name, arguments):
    function = functions.get(name)
    try:
        result = function(arguments, Context(config, name))
    except ToolError as err:
        return _tool_error(str(err) or type(err).__name__)
    except Exception as err:  # noqa: BLE001 - every failure becomes a tool error
        traceback.print_exc(file=sys.stderr)
        return _tool_error("%s: %s" % (type(err).__name__, err))
    if not isinstance(result, dict):
        return _tool_error("the tool returned %s, not an object" % type(result).__name__)
    try:
        text = json.dumps(result, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as err:
        return _tool_error("the tool's result is not JSON: %s" % err)
    return {"content": [{"type": "text", "text": text}], "structuredContent": result,
            "isError": False}


def serve():
    tools = _load_tools()
    try:
        config = json.loads(os.environ.get("CLAWC_CONFIG") or "{}")
    except ValueError:
        config = {}
    import generated.tools as implementation  # the model's code, imported once

    declared = {tool["name"] for tool in tools}
    functions = {}
    for tool in tools:
        function = getattr(implementation, tool["name"], None)
        if callable(function):
            functions[tool["name"]] = function
    for raw in sys.stdin.buffer:
        line = raw.strip()
        if not line:
            continue
        try:
            message = json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            _error(None, PARSE_ERROR, "parse error")
            continue
        if not isinstance(message, dict) or message.get("jsonrpc") != "2.0":
            _error(None, INVALID_REQUEST, "invalid request")
            continue
        method = message.get("method")
        if "id" not in message:
            continue  # a notification (initialized, cancelled): nothing to answer
        id_ = message["id"]
        params = message.get("params") or {}
        if method == "initialize":
            asked = params.get("protocolVersion")
            version = asked if asked in SUPPORTED_VERSIONS else PROTOCOL_VERSION
            _send({"jsonrpc": "2.0", "id": id_, "result": {
                "protocolVersion": version,
                "capabilities": {"tools": {"listChanged": False}},
                "serverInfo": SERVER_INFO,
            }})
        elif method == "ping":
            _send({"jsonrpc": "2.0", "id": id_, "result": {}})
        elif method == "tools/list":
            _send({"jsonrpc": "2.0", "id": id_, "result": {"tools": tools}})
        elif method == "tools/call":
            name = params.get("name")
            arguments = params.get("arguments") or {}
            if name not in declared:
                _error(id_, INVALID_PARAMS, "unknown tool: %s" % (name,))
            elif name not in functions:
                _send({"jsonrpc": "2.0", "id": id_, "result": _tool_error(
                    "generated/tools.py defines no function %s" % (name,))})
            elif not isinstance(arguments, dict):
                _error(id_, INVALID_PARAMS, "arguments must be an object")
            else:
                _send({"jsonrpc": "2.0", "id": id_,
                       "result": _call(functions, config, name, arguments)})
        else:
            _error(id_, METHOD_NOT_FOUND, "method not found: %s" % (method,))
    return 0
