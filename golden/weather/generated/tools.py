"""Open-Meteo weather tools: place search (geocoding API) and current/daily weather (forecast API).

Open-Meteo needs no key, so no request carries any credential or authentication header.
"""
import urllib.parse

from clawc import ToolError, http

GEOCODING_URL = "https://geocoding-api.open-meteo.com/v1/search"
FORECAST_URL = "https://api.open-meteo.com/v1/forecast"

CURRENT_VARIABLES = ("temperature_2m,relative_humidity_2m,apparent_temperature,weather_code,"
                     "wind_speed_10m,wind_direction_10m")
DAILY_VARIABLES = ("weather_code,temperature_2m_max,temperature_2m_min,precipitation_sum,"
                   "precipitation_probability_max")

# Defaults from the spec's input schemas: the scaffold passes arguments as given.
DEFAULT_PLACE_COUNT = 5
DEFAULT_LANGUAGE = "en"
DEFAULT_FORECAST_DAYS = 3
DEFAULT_TIMEZONE = "auto"

# WMO weather interpretation codes, as Open-Meteo documents them.
WMO_DESCRIPTIONS = {
    0: "Clear sky",
    1: "Mainly clear",
    2: "Partly cloudy",
    3: "Overcast",
    45: "Fog",
    48: "Depositing rime fog",
    51: "Light drizzle",
    53: "Moderate drizzle",
    55: "Dense drizzle",
    56: "Light freezing drizzle",
    57: "Dense freezing drizzle",
    61: "Slight rain",
    63: "Moderate rain",
    65: "Heavy rain",
    66: "Light freezing rain",
    67: "Heavy freezing rain",
    71: "Slight snow fall",
    73: "Moderate snow fall",
    75: "Heavy snow fall",
    77: "Snow grains",
    80: "Slight rain showers",
    81: "Moderate rain showers",
    82: "Violent rain showers",
    85: "Slight snow showers",
    86: "Heavy snow showers",
    95: "Thunderstorm",
    96: "Thunderstorm with slight hail",
    99: "Thunderstorm with heavy hail",
}


def describe_weather(code):
    return WMO_DESCRIPTIONS.get(code, "Unknown")


def open_meteo_get(base_url, params):
    """GET base_url with params (a list of pairs, kept in order) and return the parsed JSON.

    safe="," keeps the comma-separated variable lists literal, as Open-Meteo's own URLs show them.
    """
    url = base_url + "?" + urllib.parse.urlencode(params, safe=",")
    response = http.get(url)
    if response.status == 200:
        return response.json()
    if response.status == 400:
        reason = error_reason(response)
        if reason is not None:
            raise ToolError("Open-Meteo error: %s" % reason)
    raise ToolError("Open-Meteo HTTP %d" % response.status)


def error_reason(response):
    """The "reason" of Open-Meteo's {"error": true, "reason": ...} body, or None without one."""
    try:
        body = response.json()
    except http.HttpError:  # not JSON: no reason to quote
        return None
    if isinstance(body, dict) and body.get("error") is True and isinstance(body.get("reason"), str):
        return body["reason"]
    return None


def to_place(result):
    place = {
        "name": result["name"],
        "latitude": result["latitude"],
        "longitude": result["longitude"],
        "timezone": result["timezone"],
    }
    for key in ("country", "country_code", "population"):
        if result.get(key) is not None:
            place[key] = result[key]
    if result.get("admin1"):
        place["region"] = result["admin1"]
    return place


def find_place(args, ctx):
    name = args["name"]
    data = open_meteo_get(GEOCODING_URL, [
        ("name", name),
        ("count", args.get("count", DEFAULT_PLACE_COUNT)),
        ("language", args.get("language", DEFAULT_LANGUAGE)),
        ("format", "json"),
    ])
    # Open-Meteo leaves out "results" entirely when nothing matches.
    results = data.get("results")
    if not results:
        raise ToolError("no place found for '%s'" % name)
    return {"places": [to_place(result) for result in results]}


def current_weather(args, ctx):
    data = open_meteo_get(FORECAST_URL, [
        ("latitude", str(args["latitude"])),
        ("longitude", str(args["longitude"])),
        ("current", CURRENT_VARIABLES),
        ("timezone", "auto"),
    ])
    current = data["current"]
    return {
        "time": current["time"],
        "timezone": data["timezone"],
        "temperature_c": current["temperature_2m"],
        "apparent_temperature_c": current["apparent_temperature"],
        "humidity_percent": current["relative_humidity_2m"],
        "wind_speed_kmh": current["wind_speed_10m"],
        "wind_direction_deg": current["wind_direction_10m"],
        "weather_code": current["weather_code"],
        "weather": describe_weather(current["weather_code"]),
    }


def daily_forecast(args, ctx):
    data = open_meteo_get(FORECAST_URL, [
        ("latitude", str(args["latitude"])),
        ("longitude", str(args["longitude"])),
        ("daily", DAILY_VARIABLES),
        ("timezone", args.get("timezone", DEFAULT_TIMEZONE)),
        ("forecast_days", args.get("days", DEFAULT_FORECAST_DAYS)),
    ])
    daily = data["daily"]
    return {
        "timezone": data["timezone"],
        "days": [day_forecast(daily, index) for index in range(len(daily["time"]))],
    }


def day_forecast(daily, index):
    """Day `index` of Open-Meteo's "daily" object, which holds one array per variable."""
    code = daily["weather_code"][index]
    day = {
        "date": daily["time"][index],
        "weather_code": code,
        "weather": describe_weather(code),
        "temperature_max_c": daily["temperature_2m_max"][index],
        "temperature_min_c": daily["temperature_2m_min"][index],
        "precipitation_mm": daily["precipitation_sum"][index],
    }
    probability = daily["precipitation_probability_max"][index]
    if probability is not None:
        day["precipitation_probability_percent"] = probability
    return day
