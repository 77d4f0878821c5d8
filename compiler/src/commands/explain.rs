//! `clawc explain [CODE]`: the long explanation of a diagnostic code, or the list of all codes.

use super::{error, print_stdout};
use crate::exit;

pub fn run(code: Option<&str>) -> i32 {
    let Some(code) = code else {
        let list: String = spec_lang::codes::all()
            .map(|info| format!("{}  {}\n", info.code, info.title))
            .collect();
        print_stdout(&list);
        return exit::OK;
    };
    match spec_lang::codes::explain(code) {
        Some(info) => {
            print_stdout(&format!(
                "{}: {}\n\n{}\n",
                info.code,
                info.title,
                info.explanation.trim_end()
            ));
            exit::OK
        }
        None => {
            error(format!(
                "no such diagnostic code: {code} (run `clawc explain` to list them)"
            ));
            exit::USAGE
        }
    }
}
