"""The gmail_reader integration: search a Gmail mailbox and read messages, read-only.

Every request goes to the Gmail API v1; the egress proxy adds the OAuth access token for
gmail.googleapis.com, so no Authorization header is ever built here.
"""
import base64
import datetime
import html
import re
import urllib.parse

from clawc import ToolError, http

API = "https://gmail.googleapis.com/gmail/v1/users/me"
METADATA_HEADERS = ("From", "To", "Subject", "Date")
TEXT_MAX = 100000
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def search_messages(args, ctx):
    query = args.get("query", "in:inbox")
    limit = args.get("limit", 10)
    listing = _get("/messages", [("q", query), ("maxResults", limit)])
    messages = []
    # Gmail leaves the "messages" key out entirely when nothing matches.
    for reference in listing.get("messages", []):
        params = [("format", "metadata")] + [("metadataHeaders", name) for name in METADATA_HEADERS]
        messages.append(_summary(_get(_message_path(reference["id"]), params)))
    return {"messages": messages}


def read_message(args, ctx):
    message = _get(_message_path(args["id"]), [("format", "full")])
    return {"message": _summary(message), "text": _body_text(message.get("payload") or {})}


def _message_path(message_id):
    return "/messages/" + urllib.parse.quote(message_id, safe="")


def _get(path, params):
    """GET an API path with query pairs (in order) and return the JSON answer."""
    response = http.get(API + path + "?" + urllib.parse.urlencode(params))
    if response.status != 200:
        raise ToolError(_error_text(response))
    return response.json()


def _error_text(response):
    # Google's error body is {"error": {"code": ..., "message": ...}}; fall back to the
    # status line when an intermediary answered with something else.
    code, message = response.status, response.reason
    try:
        error = response.json().get("error")
    except (ToolError, AttributeError):
        error = None
    if isinstance(error, dict):
        code = error.get("code", code)
        message = error.get("message", message)
    return "Gmail error %s: %s" % (code, message)


def _header(headers, name):
    """The first header of that name (case-insensitive), or None."""
    wanted = name.lower()
    for header in headers:
        if str(header.get("name", "")).lower() == wanted:
            return header.get("value")
    return None


def _received(internal_date):
    # internalDate is milliseconds since the epoch as a string; integer arithmetic keeps it
    # exact (a float would round far-future values).
    moment = EPOCH + datetime.timedelta(milliseconds=int(internal_date))
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _summary(message):
    headers = (message.get("payload") or {}).get("headers") or []
    labels = message.get("labelIds") or []
    summary = {
        "id": message["id"],
        "thread_id": message["threadId"],
        "from": _header(headers, "From") or "",
        "subject": _header(headers, "Subject") or "(no subject)",
        "date": _received(message.get("internalDate", "0")),
        "snippet": html.unescape(message.get("snippet", "")),
        "unread": "UNREAD" in labels,
        "labels": labels,
    }
    to = _header(headers, "To")
    if to is not None:
        summary["to"] = to
    return summary


def _parts_depth_first(part):
    yield part
    for child in part.get("parts") or []:
        yield from _parts_depth_first(child)


def _first_data(payload, mime_type):
    for part in _parts_depth_first(payload):
        data = (part.get("body") or {}).get("data")
        if str(part.get("mimeType", "")).lower() == mime_type and data:
            return data
    return None


def _decode(data):
    # Gmail's base64url comes without padding; urlsafe_b64decode needs it.
    padded = data + "=" * (-len(data) % 4)
    return base64.urlsafe_b64decode(padded).decode("utf-8", errors="replace")


def _body_text(payload):
    plain = _first_data(payload, "text/plain")
    if plain is not None:
        text = _decode(plain)
    else:
        markup = _first_data(payload, "text/html")
        if markup is None:
            return ""
        text = html.unescape(re.sub(r"<[^>]*>", " ", _decode(markup)))
    return text.replace("\r\n", "\n").strip()[:TEXT_MAX]
