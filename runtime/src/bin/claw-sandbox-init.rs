//! The standalone in-sandbox init (see `claw_runtime::init`).

fn main() {
    let code = claw_runtime::init::run_from_args(std::env::args_os().skip(1).collect());
    std::process::exit(code);
}
