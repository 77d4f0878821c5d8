//! The tool code that passes `clawc init`'s example spec (an `echo` integration): shared by the
//! build suites and the build benchmark (which includes this file with `#[path]`).

pub const TOOLS_PY: &str = r#"from clawc import ToolError, http


def get_item(args, ctx):
    response = http.get("https://api.example.com/items/%d" % args["id"])
    if response.status == 404:
        raise ToolError("item %d not found" % args["id"])
    return {"item": response.json()}
"#;
