//! How errors reach the user: once, as a chain, on one screen.

/// Formats an error and its causes. Errors whose own message already carries a rendered
/// diagnostic (file, line, offending source) are printed as they are.
pub fn render_error(err: &anyhow::Error) -> String {
    let mut out = format!("error: {err}");
    for cause in err.chain().skip(1) {
        let text = cause.to_string();
        if !out.contains(&text) {
            out.push_str(&format!("\n  caused by: {text}"));
        }
    }
    out
}

/// How a command ended, as the process exit status says it. Every command returns one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    /// The command did what was asked.
    Ok,
    /// It could not (bad input, an engine error, a service that failed).
    Failed,
    /// `plan`: `up` would change something.
    ChangesPending,
    /// Stopped by Ctrl-C or SIGTERM before the end, like a shell reports SIGINT.
    Interrupted,
    /// `exec`: the status of the command run in the container (never 0).
    Command(u8),
}

impl ExitCode {
    pub fn code(self) -> i32 {
        match self {
            ExitCode::Ok => 0,
            ExitCode::Failed => 1,
            ExitCode::ChangesPending => 2,
            ExitCode::Interrupted => 130,
            ExitCode::Command(code) => i32::from(code),
        }
    }

    /// `Ok` when `ok`, else `Failed`.
    pub fn from_ok(ok: bool) -> Self {
        if ok {
            ExitCode::Ok
        } else {
            ExitCode::Failed
        }
    }

    /// The exit status of a process run elsewhere (0 is `Ok`; out of range is `Failed`).
    pub fn of_command(status: i64) -> Self {
        match u8::try_from(status) {
            Ok(0) => ExitCode::Ok,
            Ok(code) => ExitCode::Command(code),
            Err(_) => ExitCode::Failed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ExitCode;

    #[test]
    fn exit_codes() {
        assert_eq!(ExitCode::Ok.code(), 0);
        assert_eq!(ExitCode::ChangesPending.code(), 2);
        assert_eq!(ExitCode::Interrupted.code(), 130);
        assert_eq!(ExitCode::of_command(3), ExitCode::Command(3));
        assert_eq!(ExitCode::of_command(0), ExitCode::Ok);
        assert_eq!(ExitCode::of_command(-1), ExitCode::Failed);
    }
}
