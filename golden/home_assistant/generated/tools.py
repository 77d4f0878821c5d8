"""Home Assistant: entity states and service calls over the REST API on the local network.

The egress proxy adds the long-lived access token (Authorization: Bearer ...) to every request
for homeassistant.local, so no request built here carries a credential.
"""
import urllib.parse

from clawc import ToolError, http

API = "http://homeassistant.local:8123/api"


def fail_for_status(response):
    """Raise the error every tool shares for a non-200 answer it has no special text for."""
    if response.status == 401:
        raise ToolError("Home Assistant HTTP 401: check the access token")
    raise ToolError("Home Assistant HTTP %d" % response.status)


def entity_summary(state):
    summary = {"entity_id": state["entity_id"], "state": state["state"]}
    name = (state.get("attributes") or {}).get("friendly_name")
    if name is not None:
        summary["name"] = name
    return summary


def entity_state(state):
    attributes = state.get("attributes") or {}
    entity = entity_summary(state)
    unit = attributes.get("unit_of_measurement")
    if unit is not None:
        entity["unit"] = unit
    entity["last_changed"] = state["last_changed"]
    entity["last_updated"] = state["last_updated"]
    entity["attributes"] = attributes
    return entity


def list_entities(args, ctx):
    response = http.get(API + "/states")
    if response.status != 200:
        fail_for_status(response)
    states = response.json()
    domain = args.get("domain")
    if domain is not None:
        prefix = domain + "."
        states = [state for state in states if state["entity_id"].startswith(prefix)]
    states.sort(key=lambda state: state["entity_id"])
    return {"entities": [entity_summary(state) for state in states]}


def get_state(args, ctx):
    entity_id = args["entity_id"]
    response = http.get(API + "/states/" + urllib.parse.quote(entity_id, safe=""))
    if response.status == 404:
        raise ToolError("entity %s not found" % entity_id)
    if response.status != 200:
        fail_for_status(response)
    return {"entity": entity_state(response.json())}


def service_body(args):
    """The JSON body of a service call: the target entity first, then the extra service data."""
    body = {"entity_id": args["entity_id"]}
    if "data" in args:
        data = args["data"]
        # The entity is the one the call (and its approval) names; data may not retarget it.
        if not isinstance(data, dict) or "entity_id" in data:
            raise ToolError("data must be an object without entity_id")
        body.update(data)
    return body


def call_service(args, ctx):
    body = service_body(args)
    domain, service = args["domain"], args["service"]
    # json= sends "Content-Type: application/json", which Home Assistant requires on POST.
    response = http.post("%s/services/%s/%s" % (API, domain, service), json=body)
    if response.status == 400:
        raise ToolError("Home Assistant rejected %s.%s: HTTP 400" % (domain, service))
    if response.status != 200:
        fail_for_status(response)
    return {"changed": [entity_summary(state) for state in response.json()]}
