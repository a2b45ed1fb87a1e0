//! The `envctl` binary: parse arguments, run, print the error chain once, map to an exit code.

use envctl::errors::ExitCode;

fn main() {
    let cli = envctl::cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(err) => {
            envctl::errln!("error: cannot start the async runtime: {err}");
            std::process::exit(ExitCode::Failed.code());
        }
    };
    let code = match runtime.block_on(envctl::cli::run(cli)) {
        Ok(code) => code,
        Err(err) => {
            envctl::errln!("{}", envctl::errors::render_error(&err));
            ExitCode::Failed
        }
    };
    std::process::exit(code.code());
}
