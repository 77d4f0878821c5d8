"""Trello cards: the lists and open cards of one board, and adding cards, over the REST API.

The egress proxy appends the `key` and `token` query parameters to every request for
api.trello.com, so no URL built here carries a credential.
"""
import urllib.parse

from clawc import ToolError, http

API = "https://api.trello.com/1"

# The card fields list_cards asks for: exactly what card_from_trello reads.
CARD_FIELDS = "name,desc,due,dueComplete,idList,labels,shortUrl"


def api_url(path, params):
    # safe="," keeps comma-separated field lists readable, as the spec's requests record them.
    return API + path + "?" + urllib.parse.urlencode(params, safe=",")


def expect_ok(response):
    """The decoded JSON body of a 200 answer; Trello's plain-text error otherwise."""
    if response.status != 200:
        raise ToolError("Trello HTTP %d: %s" % (response.status, response.text().strip()))
    return response.json()


def label_name(label):
    # A label may be unnamed, shown on the board by its colour only.
    return label.get("name") or label.get("color") or ""


def card_from_trello(card):
    result = {
        "id": card["id"],
        "name": card["name"],
        "list_id": card["idList"],
        "labels": [label_name(label) for label in card.get("labels") or []],
        "due_complete": bool(card.get("dueComplete")),
        "url": card["shortUrl"],
    }
    # Trello sends "" for no description and null for no due date; the schema omits both.
    if card.get("desc"):
        result["description"] = card["desc"]
    if card.get("due") is not None:
        result["due"] = card["due"]
    return result


def list_lists(args, ctx):
    board = urllib.parse.quote(ctx.config["board_id"], safe="")
    lists = expect_ok(http.get(api_url("/boards/%s/lists" % board,
                                       [("filter", "open"), ("fields", "name")])))
    return {"lists": [{"id": entry["id"], "name": entry["name"]} for entry in lists]}


def list_cards(args, ctx):
    board = urllib.parse.quote(ctx.config["board_id"], safe="")
    cards = expect_ok(http.get(api_url("/boards/%s/cards/open" % board,
                                       [("fields", CARD_FIELDS)])))
    list_id = args.get("list_id")
    if list_id is not None:
        cards = [card for card in cards if card.get("idList") == list_id]
    return {"cards": [card_from_trello(card) for card in cards]}


def add_card(args, ctx):
    # Trello takes a new card's fields as query parameters; the request has no body.
    params = [("idList", args["list_id"]), ("name", args["name"])]
    if "description" in args:
        params.append(("desc", args["description"]))
    if "due" in args:
        params.append(("due", args["due"]))
    params.append(("pos", "bottom"))
    card = expect_ok(http.post(api_url("/cards", params)))
    return {"card": card_from_trello(card)}
