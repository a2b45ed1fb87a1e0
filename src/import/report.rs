//! What an import could not carry over, one line each, with the Compose file and line.
//!
//! `lost` findings change what runs (a setting envctl cannot express); `changed` ones are
//! carried over in another form the user should know about (a host variable that became a
//! `--set` value, an env_file copied in). `--check` fails on `lost` only.

use serde::Serialize;

use super::yaml::At;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Lost,
    Changed,
    /// Nothing is lost; a suggestion (a shipped template fits).
    Note,
}

#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    #[serde(skip)]
    pub at: At,
    pub kind: Kind,
    /// What was not carried over, as the Compose file says it.
    pub what: String,
    /// What to do instead.
    pub instead: String,
}

impl Finding {
    pub fn lost(at: At, what: impl Into<String>, instead: impl Into<String>) -> Self {
        Self {
            at,
            kind: Kind::Lost,
            what: what.into(),
            instead: instead.into(),
        }
    }

    pub fn changed(at: At, what: impl Into<String>, instead: impl Into<String>) -> Self {
        Self {
            kind: Kind::Changed,
            ..Self::lost(at, what, instead)
        }
    }

    pub fn note(at: At, what: impl Into<String>, instead: impl Into<String>) -> Self {
        Self {
            kind: Kind::Note,
            ..Self::lost(at, what, instead)
        }
    }
}

#[derive(Debug, Default)]
pub struct Findings(pub Vec<Finding>);

impl Findings {
    /// Adds a finding; the same one again (a node shared through a YAML anchor) is dropped.
    pub fn push(&mut self, f: Finding) {
        let seen = self
            .0
            .iter()
            .any(|g| g.at == f.at && g.kind == f.kind && g.what == f.what);
        if !seen {
            self.0.push(f);
        }
    }

    pub fn any_lost(&self) -> bool {
        self.0.iter().any(|f| f.kind == Kind::Lost)
    }

    /// One line per finding, sorted by file and line: `FILE:LINE: lost: WHAT; INSTEAD`.
    pub fn lines(&self, files: &[String]) -> Vec<String> {
        let mut sorted: Vec<&Finding> = self.0.iter().collect();
        sorted.sort_by_key(|f| (f.at.file, f.at.line));
        sorted
            .iter()
            .map(|f| {
                let kind = match f.kind {
                    Kind::Lost => "lost",
                    Kind::Changed => "changed",
                    Kind::Note => "note",
                };
                let file = files.get(f.at.file).map(String::as_str).unwrap_or("?");
                format!("{file}:{}: {kind}: {}; {}", f.at.line, f.what, f.instead)
            })
            .collect()
    }
}
