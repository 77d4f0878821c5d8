"""GitHub issues of one repository (config.repo) over the REST API.

The token is never handled here: the egress proxy adds the Authorization header for
api.github.com, so no request built below carries one.
"""
import json
import urllib.parse

from clawc import ToolError, http

API_ROOT = "https://api.github.com"
HEADERS = {
    "Accept": "application/vnd.github+json",
    "X-GitHub-Api-Version": "2022-11-28",
}

# Defaults from the spec's input schema: the scaffold passes arguments as given.
DEFAULT_STATE = "open"
DEFAULT_LIMIT = 20


def repo_url(ctx, path):
    # config.repo is "owner/name", already validated by its pattern, and goes in as is.
    return "%s/repos/%s%s" % (API_ROOT, ctx.config["repo"], path)


def github_error(response):
    """GitHub's error: the "message" of its JSON body, or the raw body when that is not JSON."""
    try:
        body = json.loads(response.body)
    except ValueError:
        body = None
    if isinstance(body, dict) and "message" in body:
        message = body["message"]
    else:
        message = response.text()
    return ToolError("GitHub API error %d: %s" % (response.status, message))


def expect_status(response, status):
    if response.status != status:
        raise github_error(response)
    return response.json()


def label_names(item):
    return [label["name"] for label in item["labels"]]


def to_summary(item):
    summary = {
        "number": item["number"],
        "title": item["title"],
        "state": item["state"],
        "labels": label_names(item),
        "comments": item["comments"],
        "url": item["html_url"],
        "updated_at": item["updated_at"],
    }
    if item.get("assignee") is not None:
        summary["assignee"] = item["assignee"]["login"]
    return summary


def list_issues(args, ctx):
    params = [("state", args.get("state", DEFAULT_STATE))]
    if "labels" in args:
        params.append(("labels", ",".join(args["labels"])))
    params.append(("per_page", args.get("limit", DEFAULT_LIMIT)))
    url = repo_url(ctx, "/issues") + "?" + urllib.parse.urlencode(params, safe=",")
    items = expect_status(http.get(url, headers=HEADERS), 200)
    # GitHub's issues endpoint also lists pull requests; only they carry "pull_request".
    return {"issues": [to_summary(item) for item in items if "pull_request" not in item]}


def get_issue(args, ctx):
    number = args["number"]
    item = expect_status(http.get(repo_url(ctx, "/issues/%d" % number), headers=HEADERS), 200)
    if "pull_request" in item:
        raise ToolError("#%d is a pull request, not an issue" % number)
    issue = {
        "number": item["number"],
        "title": item["title"],
        "state": item["state"],
        "author": item["user"]["login"],
        "labels": label_names(item),
        "assignees": [assignee["login"] for assignee in item["assignees"]],
        "comments": item["comments"],
        "url": item["html_url"],
        "created_at": item["created_at"],
    }
    for key in ("state_reason", "closed_at"):
        if item.get(key) is not None:
            issue[key] = item[key]
    if item.get("body"):
        issue["body"] = item["body"]
    return {"issue": issue}


def add_comment(args, ctx):
    url = repo_url(ctx, "/issues/%d/comments" % args["number"])
    headers = dict(HEADERS, **{"Content-Type": "application/json"})
    comment = expect_status(http.post(url, json={"body": args["body"]}, headers=headers), 201)
    return {"id": comment["id"], "url": comment["html_url"]}
