"""Google Calendar, read-only: the user's calendar list and the events of one calendar.

The egress proxy adds the OAuth access token (Authorization: Bearer ...) to every request for
www.googleapis.com, so no request built here carries a credential.
"""
import datetime
import urllib.parse

from clawc import ToolError, http

API = "https://www.googleapis.com/calendar/v3"


def get_json(url):
    """The decoded body of a 200 answer; Google's error object turned into a ToolError otherwise."""
    response = http.get(url)
    if response.status != 200:
        raise ToolError(google_error(response))
    return response.json()


def google_error(response):
    # Google wraps every error as {"error": {"code", "message", ...}}; fall back to the status
    # and raw text for anything else in the way (a proxy page, an HTML error).
    try:
        error = response.json().get("error")
        return "Google Calendar error %s: %s" % (error["code"], error["message"])
    except (ToolError, AttributeError, KeyError, TypeError):
        return "Google Calendar error %d: %s" % (response.status, response.text().strip())


def calendar_from_entry(entry):
    return {
        "id": entry["id"],
        "name": entry.get("summaryOverride") or entry["summary"],
        "primary": entry.get("primary", False),
        "access": entry["accessRole"],
        "time_zone": entry["timeZone"],
    }


def list_calendars(args, ctx):
    listing = get_json(API + "/users/me/calendarList")
    return {"calendars": [calendar_from_entry(entry) for entry in listing.get("items", [])]}


def parse_date_time(text):
    # RFC 3339 allows a lower-case "t" and "z", which datetime.fromisoformat does not.
    try:
        return datetime.datetime.fromisoformat(text.upper())
    except ValueError:
        raise ToolError("not an RFC 3339 date-time: %s" % text) from None


def check_window(time_min, time_max):
    start, end = parse_date_time(time_min), parse_date_time(time_max)
    # An offset-less time cannot be ordered against one with an offset; read it as UTC.
    start, end = (moment if moment.tzinfo else moment.replace(tzinfo=datetime.timezone.utc)
                  for moment in (start, end))
    if end <= start:
        raise ToolError("time_max must be after time_min")


def event_time(moment):
    """The event's start or end as text, and whether it is a whole day (a date, no time)."""
    if "dateTime" in moment:
        return moment["dateTime"], False
    return moment["date"], True


def event_from_item(item):
    start, all_day = event_time(item["start"])
    end, _ = event_time(item["end"])
    event = {
        "id": item["id"],
        "title": item.get("summary", "(no title)"),
        "start": start,
        "end": end,
        "all_day": all_day,
        "status": item["status"],
    }
    if "location" in item:
        event["location"] = item["location"]
    organizer = (item.get("organizer") or {}).get("email")
    if organizer is not None:
        event["organizer"] = organizer
    # Rooms and other resources are attendees too; only people are listed.
    event["attendees"] = [attendee["email"] for attendee in item.get("attendees", [])
                          if not attendee.get("resource") and "email" in attendee]
    event["url"] = item["htmlLink"]
    if "hangoutLink" in item:
        event["video_link"] = item["hangoutLink"]
    return event


def list_events(args, ctx):
    calendar_id = args.get("calendar_id", "primary")
    time_min, time_max = args["time_min"], args["time_max"]
    check_window(time_min, time_max)
    params = [
        ("timeMin", time_min),
        ("timeMax", time_max),
        ("singleEvents", "true"),
        ("orderBy", "startTime"),
        ("maxResults", args.get("limit", 25)),
    ]
    if "query" in args:
        params.append(("q", args["query"]))
    url = "%s/calendars/%s/events?%s" % (API, urllib.parse.quote(calendar_id, safe=""),
                                         urllib.parse.urlencode(params))
    listing = get_json(url)
    return {"events": [event_from_item(item) for item in listing.get("items", [])]}
