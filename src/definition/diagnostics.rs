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
            }
        }
        if let Some(hint) = &self.hint {
            writeln!(f, "  = help: {hint}")?;
        }
        Ok(())
    }
}

/// Renders all diagnostics, separated by blank lines, with a count at the end.
pub fn render_all(diagnostics: &[Diagnostic]) -> String {
    let mut out = String::new();
    for diagnostic in diagnostics {
        out.push_str(&diagnostic.to_string());
        out.push('\n');
    }
    let n = diagnostics.len();
    out.push_str(&format!(
        "{n} problem{} found",
        if n == 1 { "" } else { "s" }
    ));
    out
}

/// Maps positions in the rendered text back to the Tera source the user edits.
#[derive(Debug, Clone)]
pub struct SourceMap {
    source: String,
    rendered: String,
    /// Rendering kept one rendered line per source line, so line numbers agree.
    same_lines: bool,
}

impl SourceMap {
    pub fn new(source: &str, rendered: &str) -> Self {
        Self {
            source: source.to_string(),
            rendered: rendered.to_string(),
            same_lines: source.lines().count() == rendered.lines().count(),
        }
    }

    /// A location in the Tera source itself (for Tera errors).
    /// Positions past the end (Tera's "unexpected end of input") point after the last line.
    pub fn source_location(&self, line: usize, col: usize) -> Option<Location> {
        let count = self.source.lines().count();
        if count == 0 {
            return None;
        }
        let (line, col) = if line > count {
            let last = self.source.lines().last().unwrap_or("");
            (count, last.chars().count() + 1)
        } else {
            (line.max(1), col)
        };
        let text = self.source.lines().nth(line - 1)?;
        Some(Location {
            line,
            col: col.max(1),
            text: text.to_string(),
            rendered: false,
        })
    }

    /// Maps a 1-based position in the rendered text to the source when line structure is kept,
    /// or when the rendered line appears exactly once, verbatim, in the source; otherwise
    /// reports the rendered line and says so.
    pub fn location(&self, line: usize, col: usize) -> Option<Location> {
        let rendered_line = match self.rendered.lines().nth(line.checked_sub(1)?) {
            Some(text) => text,
            // The end of the document: point at the last line.
            None => return self.location(self.rendered.lines().count().max(1), 1),
        };
        if self.same_lines {
            let source_line = self.source.lines().nth(line - 1).unwrap_or("");
            return Some(Location {
                line,
                col: if source_line == rendered_line { col } else { 1 },
                text: source_line.to_string(),
                rendered: false,
            });
        }
        if !rendered_line.trim().is_empty() {
            let mut matches = self
                .source
                .lines()
                .enumerate()
                .filter(|(_, text)| *text == rendered_line);
            if let (Some((index, text)), None) = (matches.next(), matches.next()) {
                return Some(Location {
                    line: index + 1,
                    col,
                    text: text.to_string(),
                    rendered: false,
                });
            }
        }
        Some(Location {
            line,
            col,
            text: rendered_line.to_string(),
            rendered: true,
        })
    }

    pub fn rendered(&self) -> &str {
        &self.rendered
    }
}

impl SourceMap {
    /// The location of a key path in the rendered text, mapped to the source.
    pub fn location_of(&self, path: &[super::locate::Seg]) -> Option<Location> {
        let (line, col) = super::locate::find_nearest(self.rendered(), path)?;
        self.location(line, col)
    }
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
    fn identical_structure_maps_line_for_line() {
        let map = SourceMap::new("a: {{ x }}\nb: 2\n", "a: 1\nb: 2\n");
        let loc = map.location(2, 4).unwrap();
        assert_eq!((loc.line, loc.col, loc.rendered), (2, 4, false));
        assert_eq!(loc.text, "b: 2");
    }

    #[test]
    fn changed_structure_finds_verbatim_lines_or_says_rendered() {
        let src = "{% for i in [1,2] %}\ns{{ i }}: x\n{% endfor %}\nz: 1\n";
        let map = SourceMap::new(src, "s1: x\ns2: x\nz: 1\n");
        let z = map.location(3, 1).unwrap();
        assert_eq!((z.line, z.rendered), (4, false));
        let s2 = map.location(2, 1).unwrap();
        assert_eq!((s2.line, s2.rendered, s2.text.as_str()), (2, true, "s2: x"));
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
            }))
            .hint("fix it");
        let text = d.to_string();
        assert!(text.contains("e.yaml:3:5"), "{text}");
        assert!(text.contains("3 |   x: 1"), "{text}");
        assert!(text.contains("help: fix it"), "{text}");
    }
}
