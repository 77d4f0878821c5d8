"""The rss_reader integration: fetch one RSS 2.0 or Atom feed and return its newest items.

Which hosts are reachable is the egress proxy's decision (the spec's allowlist), so nothing here
checks hosts. Parsing is done with xml.etree.ElementTree after refusing any document with a
DOCTYPE or entity declaration, which shuts out entity-expansion attacks.
"""
import datetime
import email.utils
import html
import re
import urllib.parse
import xml.etree.ElementTree as ElementTree

from clawc import ToolError, http

ATOM = "{http://www.w3.org/2005/Atom}"
DUBLIN_CORE = "{http://purl.org/dc/elements/1.1/}"
REQUEST_HEADERS = {
    "Accept": "application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.8",
    "User-Agent": "clawc-rss-reader/0.1",
}
SUMMARY_MAX = 280
UNTITLED = "(untitled)"


def read_feed(args, ctx):
    url = args["url"]
    limit = args.get("limit", 10)
    response = http.get(url, headers=REQUEST_HEADERS)
    if response.status != 200:
        raise ToolError("feed HTTP %d" % response.status)
    root = _parse(response.body, url)
    if root.tag == "rss":
        return _read_rss(root, url, limit)
    return _read_atom(root, url, limit)


def _parse(body, url):
    """The document's root element, when the body is an RSS or Atom feed."""
    not_a_feed = ToolError("not an RSS or Atom feed: %s" % url)
    try:
        # utf-8-sig: a byte-order mark is valid UTF-8 but would make the XML ill-formed.
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise not_a_feed from None
    if "<!DOCTYPE" in text or "<!ENTITY" in text:
        raise not_a_feed
    try:
        root = ElementTree.fromstring(text)
    except ElementTree.ParseError:
        raise not_a_feed from None
    if root.tag not in ("rss", ATOM + "feed"):
        raise not_a_feed
    return root


def _text(element):
    """An element's text, stripped; None when the element is missing or the text is empty."""
    if element is None:
        return None
    # itertext() so that markup inside (an Atom type="xhtml" title) still yields its words.
    value = "".join(element.itertext()).strip()
    return value or None


def _link(base, href):
    # Feeds may use relative links; the output promises a URI, so resolve against the feed.
    return urllib.parse.urljoin(base, href) if href else None


def _utc(moment):
    # A date without a zone is taken as UTC, the only reading that does not invent an offset.
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _rss_date(value):
    if value is None:
        return None
    try:
        return _utc(email.utils.parsedate_to_datetime(value))
    except (TypeError, ValueError, IndexError):
        return None


def _atom_date(value):
    if value is None:
        return None
    try:
        return _utc(datetime.datetime.fromisoformat(value))
    except ValueError:
        return None


def _summary(value):
    if value is None:
        return None
    plain = re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]*>", " ", value))).strip()
    if len(plain) > SUMMARY_MAX:
        plain = plain[: SUMMARY_MAX - 1] + "…"
    return plain or None


def _without_absent(fields):
    return {key: value for key, value in fields.items() if value is not None}


def _read_rss(root, url, limit):
    channel = root.find("channel")
    if channel is None:
        raise ToolError("not an RSS or Atom feed: %s" % url)
    items = []
    for item in channel.findall("item")[:limit]:
        items.append(_without_absent({
            "title": _text(item.find("title")) or UNTITLED,
            "link": _link(url, _text(item.find("link"))),
            "published": _rss_date(_text(item.find("pubDate"))),
            "id": _text(item.find("guid")),
            "author": _text(item.find(DUBLIN_CORE + "creator")) or _text(item.find("author")),
            "summary": _summary(_text(item.find("description"))),
        }))
    return _without_absent({
        "title": _text(channel.find("title")) or UNTITLED,
        "link": _link(url, _text(channel.find("link"))),
        "format": "rss",
        "items": items,
    })


def _alternate_href(element):
    """href of the first <link> child with rel="alternate" or without rel."""
    for link in element.findall(ATOM + "link"):
        if link.get("rel", "alternate") == "alternate":
            href = (link.get("href") or "").strip()
            if href:
                return href
    return None


def _read_atom(root, url, limit):
    items = []
    for entry in root.findall(ATOM + "entry")[:limit]:
        author = entry.find(ATOM + "author")
        published = _text(entry.find(ATOM + "published")) or _text(entry.find(ATOM + "updated"))
        items.append(_without_absent({
            "title": _text(entry.find(ATOM + "title")) or UNTITLED,
            "link": _link(url, _alternate_href(entry)),
            "published": _atom_date(published),
            "id": _text(entry.find(ATOM + "id")),
            "author": _text(author.find(ATOM + "name")) if author is not None else None,
            # Only <summary>: <content> is the whole post, not a summary.
            "summary": _summary(_text(entry.find(ATOM + "summary"))),
        }))
    return _without_absent({
        "title": _text(root.find(ATOM + "title")) or UNTITLED,
        "link": _link(url, _alternate_href(root)),
        "format": "atom",
        "items": items,
    })
