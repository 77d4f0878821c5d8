"""HTTP for generated code: every request goes to the sandbox's egress proxy in absolute form.

The proxy decides everything: which hosts are allowed, which credentials are put on (never send
one yourself), TLS to the upstream for https:// URLs. Rendered by clawc for calendar_readonly; do not edit.

    from clawc import http
    r = http.get("https://api.example.com/v1/items?" + urllib.parse.urlencode(params))
    r = http.post(url, json={"a": 1}, headers={"Accept": "application/json"})
    r.status, r.headers["content-type"], r.body (bytes), r.text(), r.json()

A non-2xx status is returned, not raised. Raised (as HttpError, a ToolError): no network
granted, the proxy's refusal or, in tests, a request no recorded fixture matches, a timeout, a
response over `max_bytes`.
"""
import http.client
import json as _json
import os
import time
import urllib.parse

from . import ToolError

# Seconds for the whole exchange (connect, send, every byte of the answer).
DEFAULT_TIMEOUT = 20.0
# Largest response body read.
DEFAULT_MAX_BYTES = 4194304

_UNSET = object()


class HttpError(ToolError):
    """The request did not complete: refused, timed out, or too large."""


class Response:
    __slots__ = ("status", "reason", "headers", "body")

    def __init__(self, status, reason, headers, body):
        self.status = status
        self.reason = reason
        # Lower-cased names; repeated headers joined with ", ".
        self.headers = headers
        self.body = body

    def text(self):
        return self.body.decode("utf-8", errors="replace")

    def json(self):
        try:
            return _json.loads(self.body)
        except ValueError as err:
            raise HttpError("the response is not JSON: %s" % err) from None


def _proxy():
    address = os.environ.get("HTTP_PROXY", "")
    parts = urllib.parse.urlsplit(address)
    if parts.scheme != "http" or not parts.hostname or not parts.port:
        raise HttpError("this integration has no network access (no egress proxy)")
    return parts.hostname, parts.port


def request(method, url, *, headers=None, body=None, json=_UNSET,
            timeout=DEFAULT_TIMEOUT, max_bytes=DEFAULT_MAX_BYTES):
    """Send one request and read the whole answer. `body` is bytes or str; `json` a value to
    send as application/json. Returns a Response."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise HttpError("not an absolute http(s) URL: %r" % (url,))
    if parts.username or parts.password:
        raise HttpError("credentials in URLs are refused; the egress proxy injects them")
    names = {}
    for name, value in (headers or {}).items():
        names[name.lower()] = (name, str(value))
    if json is not _UNSET:
        body = _json.dumps(json, ensure_ascii=False, separators=(",", ":"))
        names.setdefault("content-type", ("Content-Type", "application/json"))
    if isinstance(body, str):
        body = body.encode("utf-8")
    names.setdefault("user-agent", ("User-Agent", "clawc-python/1"))
    names["host"] = ("Host", parts.netloc)
    names["accept-encoding"] = ("Accept-Encoding", "identity")
    names["connection"] = ("Connection", "close")
    if body is not None:
        names["content-length"] = ("Content-Length", str(len(body)))

    deadline = time.monotonic() + timeout
    proxy_host, proxy_port = _proxy()
    connection = http.client.HTTPConnection(proxy_host, proxy_port, timeout=timeout)
    try:
        # Absolute form (`GET https://host/path HTTP/1.1`), not CONNECT: the proxy must see the
        # request to put credentials on and to speak TLS upstream itself.
        connection.putrequest(method.upper(), url, skip_host=True, skip_accept_encoding=True)
        for name, value in names.values():
            connection.putheader(name, value)
        connection.endheaders(body)
        # getresponse() hands the socket to the response (and drops it from the connection).
        sock = connection.sock
        response = connection.getresponse()
        chunks = []
        size = 0
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise HttpError("%s %s: timed out after %ss" % (method.upper(), url, timeout))
            sock.settimeout(remaining)
            chunk = response.read1(65536)
            if not chunk:
                break
            size += len(chunk)
            if size > max_bytes:
                raise HttpError("%s %s: the response is larger than %d bytes"
                                % (method.upper(), url, max_bytes))
            chunks.append(chunk)
        joined = {}
        for name, value in response.getheaders():
            key = name.lower()
            joined[key] = joined[key] + ", " + value if key in joined else value
        payload = b"".join(chunks)
        if joined.get("x-clawc-egress") == "proxy":
            raise HttpError(payload.decode("utf-8", errors="replace").strip())
        return Response(response.status, response.reason, joined, payload)
    except (OSError, http.client.HTTPException) as err:
        if isinstance(err, TimeoutError) or "timed out" in str(err):
            raise HttpError("%s %s: timed out after %ss" % (method.upper(), url, timeout)) from None
        raise HttpError("%s %s: %s" % (method.upper(), url, err)) from None
    finally:
        connection.close()


def get(url, **options):
    return request("GET", url, **options)


def post(url, **options):
    return request("POST", url, **options)


def put(url, **options):
    return request("PUT", url, **options)


def patch(url, **options):
    return request("PATCH", url, **options)


def delete(url, **options):
    return request("DELETE", url, **options)
