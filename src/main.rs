//! The `envctl` binary: parse arguments, run, print the error chain once, map to an exit code.

use clap::Parser;

fn main() {
    let cli = envctl::cli::Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            std::process::exit(1);
        }
    };
    let code = match runtime.block_on(envctl::cli::run(cli)) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("{}", envctl::errors::render_error(&err));
            1
        }
    };
    std::process::exit(code);
}
