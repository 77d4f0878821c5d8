//! `clawc init NAME`: a new spec, named after its file, that passes `clawc check`.

use std::path::Path;

use super::{error, note};
use crate::cli::Global;
use crate::exit;
use crate::sources;

/// The starting point: one read-only tool over HTTPS with one example, so that `check`,
/// `build` and `test` all have something real to work on. `NAME` is replaced.
const TEMPLATE: &str = r#"// NAME: replace this with what the integration lets an agent do, and for whom.
integration NAME {
  version "0.1.0"
  summary "Look up items by id in the Example API."
  target python

  network {
    allow "api.example.com:443"
  }
  limits { memory 128MiB  pids 32  cpu 0.5  timeout 20s }

  type Item {
    id: int min(1)
    name: string
  }

  tool get_item {
    description "Fetch one item by its id."
    input { id: int min(1) }
    output { item: Item }
  }

  intent """
    get_item is GET https://api.example.com/items/{id}; the response body is the item as JSON
    ({"id": 1, "name": "..."}). Return it as `item`. A 404 means the item does not exist:
    fail with the message "item {id} not found".
    """

  example "fetches an item" {
    call get_item { id: 1 }
    http GET "https://api.example.com/items/1" -> 200 json { id: 1, name: "first" }
    expect { item: { id: 1, name: "first" } }
  }

  example "a missing item is an error" {
    call get_item { id: 2 }
    http GET "https://api.example.com/items/2" -> 404 json { message: "Not Found" }
    expect error "not found"
  }
}
"#;

/// The longest name we accept: it becomes a directory and lock key.
const MAX_NAME: usize = 64;

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !name.contains("__")
        && name.len() <= MAX_NAME
}

pub fn run(name: &str, dir: &Path, global: &Global) -> i32 {
    if !valid_name(name) {
        error(format!(
            "invalid integration name `{name}`: use lowercase letters, digits and single `_`s, starting with a letter (at most {MAX_NAME})"
        ));
        return exit::USAGE;
    }
    let path = dir.join(format!("{name}.{}", sources::EXTENSION));
    if path.exists() {
        error(format!(
            "{} already exists; not overwriting it",
            path.display()
        ));
        return exit::USAGE;
    }
    if let Err(e) = std::fs::create_dir_all(dir) {
        error(format!("{}: {e}", dir.display()));
        return exit::USAGE;
    }
    if let Err(e) = sources::write_atomic(&path, TEMPLATE.replace("NAME", name).as_bytes()) {
        error(format!("{}: {e}", path.display()));
        return exit::USAGE;
    }
    note(
        global,
        format!(
            "created {}: edit it, then run `clawc check {}`",
            path.display(),
            path.display()
        ),
    );
    exit::OK
}
