"""Slack Web API tools for a bot: list channels, post a message.

The bot token is never handled here: the egress proxy adds the Authorization header for
slack.com, so no request built below carries one.
"""
import urllib.parse

from clawc import ToolError, http

API_ROOT = "https://slack.com/api/"

# Defaults from the spec's input schemas: the scaffold passes arguments as given.
DEFAULT_INCLUDE_PRIVATE = False
DEFAULT_LIMIT = 100


def slack_result(response):
    """The JSON of a Slack answer, failing on HTTP errors and on Slack's own "ok": false.

    Slack reports most errors with HTTP 200, so the status alone says little.
    """
    if response.status != 200:
        raise ToolError("Slack HTTP %d" % response.status)
    data = response.json()
    if not isinstance(data, dict) or data.get("ok") is not True:
        error = data.get("error", "unknown_error") if isinstance(data, dict) else "unknown_error"
        raise ToolError("Slack API error: %s" % error)
    return data


def slack_get(method, params):
    url = API_ROOT + method + "?" + urllib.parse.urlencode(params, safe=",")
    return slack_result(http.get(url))


def to_channel(raw):
    channel = {
        "id": raw["id"],
        "name": raw["name"],
        "is_private": raw["is_private"],
        "is_member": raw["is_member"],
    }
    # Slack sends {"value": ""} for an unset topic or purpose: leave those out.
    for key in ("topic", "purpose"):
        value = (raw.get(key) or {}).get("value")
        if value:
            channel[key] = value
    if raw.get("num_members") is not None:
        channel["members"] = raw["num_members"]
    return channel


def list_channels(args, ctx):
    if args.get("include_private", DEFAULT_INCLUDE_PRIVATE):
        types = "public_channel,private_channel"
    else:
        types = "public_channel"
    params = [("types", types), ("exclude_archived", "true"),
              ("limit", args.get("limit", DEFAULT_LIMIT))]
    if "cursor" in args:
        params.append(("cursor", args["cursor"]))
    data = slack_get("conversations.list", params)
    result = {"channels": [to_channel(raw) for raw in data.get("channels", [])]}
    next_cursor = (data.get("response_metadata") or {}).get("next_cursor")
    if next_cursor:
        result["next_cursor"] = next_cursor
    return result


def post_message(args, ctx):
    message = {"channel": args["channel"], "text": args["text"]}
    if "thread_ts" in args:
        message["thread_ts"] = args["thread_ts"]
    posted = slack_result(http.post(
        API_ROOT + "chat.postMessage",
        json=message,
        headers={"Content-Type": "application/json; charset=utf-8"},
    ))
    link = slack_get("chat.getPermalink",
                     [("channel", args["channel"]), ("message_ts", posted["ts"])])
    return {"channel": posted["channel"], "ts": posted["ts"], "permalink": link["permalink"]}
