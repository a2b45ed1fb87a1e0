//! Command results: every command returns a `Serialize` value implementing [`Report`], and
//! [`emit`] prints it, as JSON for scripts or as text for people, through the pipe-safe
//! streams of [`super::stream`].

use serde::Serialize;

use crate::apply::{Failure, Phase};
use crate::errors::ExitCode;

/// The result of a command, as it is shown.
pub trait Report: Serialize {
    /// What a person reads on stdout (text output).
    fn text(&self) -> String;
    /// What goes to stderr in text output only (the JSON carries it).
    fn text_problems(&self) -> String {
        String::new()
    }
    /// What goes to stderr whatever the format.
    fn problems(&self) -> String {
        String::new()
    }
    /// JSON indented for reading rather than one line.
    fn pretty_json(&self) -> bool {
        false
    }
    fn exit_code(&self) -> ExitCode;
}

/// Prints a command's result and returns its exit code. Printing never fails the command.
pub fn emit<R: Report>(report: &R, json: bool) -> ExitCode {
    if json {
        let text = if report.pretty_json() {
            serde_json::to_string_pretty(report)
        } else {
            serde_json::to_string(report)
        };
        match text {
            Ok(text) => crate::outln!("{text}"),
            Err(err) => crate::errln!("error: cannot write the result as JSON: {err}"),
        }
    } else {
        crate::out!("{}", report.text());
        crate::err!("{}", report.text_problems());
    }
    crate::err!("{}", report.problems());
    report.exit_code()
}

/// The failures of an operation, each with its last log lines, for the error output.
pub fn failure_report(failures: &[Failure]) -> String {
    let mut out = String::new();
    for f in failures {
        out.push_str(&format!("service {} failed: {}\n", f.service, f.reason));
        if !f.logs.is_empty() {
            out.push_str(&format!(
                "  last {} log lines of {}:\n",
                f.logs.len(),
                f.service
            ));
            for line in &f.logs {
                out.push_str(&format!("  | {line}\n"));
            }
        }
    }
    out
}

/// Renders rows as an aligned table with a header.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<width$}", width = widths[i]))
            .collect();
        padded.join("  ").trim_end().to_string()
    };
    let mut out = line(header.to_vec());
    out.push('\n');
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
        out.push('\n');
    }
    out
}

/// Whether a phase means the service is in trouble (for exit codes and colouring).
pub fn is_failure(phase: &Phase) -> bool {
    matches!(phase, Phase::Failed { .. })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_columns() {
        let t = table(
            &["SERVICE", "PORT"],
            &[
                vec!["zookeeper".into(), "2181".into()],
                vec!["db".into(), "1".into()],
            ],
        );
        assert_eq!(t, "SERVICE    PORT\nzookeeper  2181\ndb         1\n");
    }

    #[test]
    fn failure_report_shows_logs() {
        let text = failure_report(&[Failure {
            service: "db".into(),
            reason: "unhealthy".into(),
            logs: vec!["boom".into()],
        }]);
        assert!(text.contains("service db failed: unhealthy"));
        assert!(text.contains("  | boom"));
    }
}
