//! Problems found in definition files, rendered for a terminal: file, line:col, the offending
//! line with a caret, and a hint on how to fix it where that is clear.

use std::fmt;
use std::path::{Path, PathBuf};

/// Where a problem is, in the file the user edits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// 1-based.
    pub line: usize,
    /// 1-based.
    pub col: usize,
    /// The text of that line.
    pub text: String,
    /// Set when the line is one of the Tera-rendered text and differs from the source, so the
    /// user knows it will not be found verbatim in the file.
    pub rendered: bool,
    /// The rendered text of a source line that Tera changed (a loop body, a `{{ }}`).
    pub expanded: Option<String>,
}

/// One problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: PathBuf,
    pub location: Option<Location>,
    pub message: String,
    pub hint: Option<String>,
}

impl Diagnostic {
    pub fn new(file: &Path, message: impl Into<String>) -> Self {
        Self {
            file: file.to_path_buf(),
            location: None,
            message: message.into(),
            hint: None,
        }
    }

    pub fn at(mut self, location: Option<Location>) -> Self {
        self.location = location;
        self
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn maybe_hint(mut self, hint: Option<String>) -> Self {
        self.hint = hint;
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "error: {}", self.message)?;
        match &self.location {
            None => writeln!(f, "  --> {}", self.file.display())?,
            Some(loc) => {
                let num = loc.line.to_string();
                let pad = " ".repeat(num.len());
                writeln!(
                    f,
                    "{pad}--> {}:{}:{}",
                    self.file.display(),
                    loc.line,
                    loc.col
                )?;
                if loc.rendered {
                    writeln!(
                        f,
                        "{pad} = note: line {} of the Tera-rendered text (the template changes line structure)",
                        loc.line
                    )?;
                }
                writeln!(f, "{pad} |")?;
                writeln!(f, "{num} | {}", loc.text)?;
                let caret_pad: String = loc
                    .text
                    .chars()
                    .take(loc.col.saturating_sub(1))
                    .map(|c| if c == '\t' { '\t' } else { ' ' })
                    .collect();
                writeln!(f, "{pad} | {caret_pad}^")?;
                if let Some(expanded) = &loc.expanded {
                    writeln!(f, "{pad} = note: rendered as: {}", expanded.trim())?;
                }
            }
        }
        if let Some(hint) = &self.hint {
            writeln!(f, "  = help: {hint}")?;
        }
        Ok(())
    }
}

/// Renders all diagnostics, separated by blank lines, with a count at the end.
/// The same problem found several times (a Tera loop repeats a line) is shown once.
pub fn render_all(diagnostics: &[Diagnostic]) -> String {
    let mut unique: Vec<(&Diagnostic, usize)> = Vec::new();
    for diagnostic in diagnostics {
        match unique.iter_mut().find(|(d, _)| *d == diagnostic) {
            Some((_, count)) => *count += 1,
            None => unique.push((diagnostic, 1)),
        }
    }
    let mut out = String::new();
    for (diagnostic, count) in &unique {
        let mut text = diagnostic.to_string();
        if *count > 1 {
            text = text.replacen('\n', &format!(" ({count} times)\n"), 1);
        }
        out.push_str(&text);
        out.push('\n');
    }
    let n = unique.len();
    out.push_str(&format!(
        "{n} problem{} found",
        if n == 1 { "" } else { "s" }
    ));
    out
}

/// The known name closest to `unknown`, when it is close enough to be a likely typo.
pub fn did_you_mean<'a>(unknown: &str, known: impl IntoIterator<Item = &'a str>) -> Option<String> {
    known
        .into_iter()
        .map(|k| (strsim::jaro_winkler(unknown, k), k))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| format!("did you mean `{k}`?"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_problems_are_shown_once_with_a_count() {
        let d = Diagnostic::new(Path::new("e.yaml"), "bad");
        let text = render_all(&[
            d.clone(),
            d.clone(),
            Diagnostic::new(Path::new("e.yaml"), "other"),
        ]);
        assert!(text.contains("error: bad (2 times)"), "{text}");
        assert!(text.ends_with("2 problems found"), "{text}");
    }

    #[test]
    fn suggests_close_names_only() {
        assert_eq!(
            did_you_mean("helthcheck", ["healthcheck", "image"]).as_deref(),
            Some("did you mean `healthcheck`?")
        );
        assert_eq!(did_you_mean("zzz", ["healthcheck", "image"]), None);
    }

    #[test]
    fn display_names_file_line_and_caret() {
        let d = Diagnostic::new(Path::new("e.yaml"), "bad")
            .at(Some(Location {
                line: 3,
                col: 5,
                text: "  x: 1".into(),
                rendered: false,
                expanded: None,
            }))
            .hint("fix it");
        let text = d.to_string();
        assert!(text.contains("e.yaml:3:5"), "{text}");
        assert!(text.contains("3 |   x: 1"), "{text}");
        assert!(text.contains("help: fix it"), "{text}");
    }
}
