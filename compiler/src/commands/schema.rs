//! `clawc schema SPEC [--tool NAME]` and `clawc schema --ir`.

use std::path::Path;

use spec_lang::schema;

use super::check::{check_file, report};
use super::{error, print_stdout};
use crate::cli::{DiagnosticFormat, Global};
use crate::exit;
use crate::sources;

pub fn run(spec: Option<&Path>, tool: Option<&str>, ir: bool, global: &Global) -> i32 {
    if ir {
        return print_json(&schema::ir_schema());
    }
    let Some(spec) = spec else {
        error("give a spec, or --ir for the IR's own schema");
        return exit::USAGE;
    };
    let file = match sources::read(spec) {
        Ok(file) => file,
        Err(e) => {
            error(e);
            return exit::USAGE;
        }
    };
    let checked = check_file(file);
    let Some(ir) = checked.checked.ir.as_ref() else {
        // Schemas of a spec with errors would be guesses: show the errors instead.
        report(&checked, DiagnosticFormat::Human, global);
        return exit::FAILURE;
    };
    match tool {
        None => print_json(&schema::integration_schemas(ir)),
        Some(name) => match schema::tool_schemas(ir, name) {
            Some(schemas) => {
                print_json(&serde_json::json!({ "input": schemas.input, "output": schemas.output }))
            }
            None => {
                let known: Vec<&str> = ir.tools.keys().map(String::as_str).collect();
                error(format!(
                    "{} has no tool `{name}`; its tools: {}",
                    spec.display(),
                    known.join(", ")
                ));
                exit::USAGE
            }
        },
    }
}

fn print_json(value: &serde_json::Value) -> i32 {
    match serde_json::to_string_pretty(value) {
        Ok(text) => {
            print_stdout(&format!("{text}\n"));
            exit::OK
        }
        Err(e) => {
            error(e);
            exit::USAGE
        }
    }
}
