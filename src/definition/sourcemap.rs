//! Maps positions in Tera-rendered text back to the source the user edits.
//!
//! When rendering keeps one line per source line, line numbers agree. Otherwise (loops,
//! multi-line `{% if %}`) each rendered line is aligned to the source line it most likely came
//! from: a source line is a pattern whose `{{ }}`/`{% %}` parts match anything, and rendered
//! lines are walked in order with a cursor into the source, so a loop body repeated N times
//! maps back to its one source line and text after the loop maps past it.

use super::diagnostics::Location;
use super::locate::{self, Seg};

#[derive(Debug, Clone)]
pub struct SourceMap {
    source: Vec<String>,
    rendered: String,
    /// For each rendered line, the 0-based source line it came from, if known.
    origin: Vec<Option<usize>>,
}

/// The literal parts of a source line, split at Tera tags; `None` for lines that are only
/// tags (they render to nothing useful).
fn pattern(line: &str) -> Option<Vec<String>> {
    let mut parts = Vec::new();
    let mut rest = line;
    let mut had_tag = false;
    loop {
        let next = ["{{", "{%", "{#"]
            .iter()
            .filter_map(|open| rest.find(open).map(|i| (i, *open)))
            .min_by_key(|(i, _)| *i);
        let Some((start, open)) = next else { break };
        let close = match open {
            "{{" => "}}",
            "{%" => "%}",
            _ => "#}",
        };
        parts.push(rest[..start].to_string());
        had_tag = true;
        match rest[start..].find(close) {
            Some(end) => rest = &rest[start + end + close.len()..],
            None => {
                rest = "";
                break;
            }
        }
    }
    parts.push(rest.to_string());
    if had_tag && parts.iter().all(|p| p.trim().is_empty()) {
        return None;
    }
    Some(parts)
}

/// Whether `text` could be the rendering of a line with these literal parts.
fn matches(parts: &[String], text: &str) -> bool {
    if parts.len() == 1 {
        return parts[0] == text;
    }
    let (first, last) = (&parts[0], &parts[parts.len() - 1]);
    if !text.starts_with(first.as_str()) || text.len() < first.len() + last.len() {
        return false;
    }
    if !text.ends_with(last.as_str()) {
        return false;
    }
    let mut middle = &text[first.len()..text.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match middle.find(part.as_str()) {
            Some(i) => middle = &middle[i + part.len()..],
            None => return false,
        }
    }
    true
}

fn align(source: &[String], rendered: &str) -> Vec<Option<usize>> {
    let patterns: Vec<Option<Vec<String>>> = source.iter().map(|l| pattern(l)).collect();
    let mut cursor = 0;
    rendered
        .lines()
        .map(|text| {
            if text.trim().is_empty() {
                return None;
            }
            let candidates: Vec<usize> = patterns
                .iter()
                .enumerate()
                .filter(|(_, p)| p.as_ref().is_some_and(|p| matches(p, text)))
                .map(|(i, _)| i)
                .collect();
            // Forward from the cursor; else back (the next iteration of a loop).
            let chosen = candidates
                .iter()
                .find(|&&i| i >= cursor)
                .or_else(|| candidates.iter().rev().find(|&&i| i < cursor))
                .copied();
            if let Some(i) = chosen {
                cursor = i + 1;
            }
            chosen
        })
        .collect()
}

impl SourceMap {
    pub fn new(source: &str, rendered: &str) -> Self {
        let source: Vec<String> = source.lines().map(str::to_string).collect();
        let origin = if source.len() == rendered.lines().count() {
            (0..source.len()).map(Some).collect()
        } else {
            align(&source, rendered)
        };
        Self {
            source,
            rendered: rendered.to_string(),
            origin,
        }
    }

    /// A location in the Tera source itself (for Tera errors).
    /// Positions past the end (Tera's "unexpected end of input") point after the last line.
    pub fn source_location(&self, line: usize, col: usize) -> Option<Location> {
        let count = self.source.len();
        if count == 0 {
            return None;
        }
        let (line, col) = if line > count {
            (count, self.source[count - 1].chars().count() + 1)
        } else {
            (line.max(1), col)
        };
        Some(Location {
            line,
            col: col.max(1),
            text: self.source[line - 1].clone(),
            rendered: false,
            expanded: None,
        })
    }

    /// Maps a 1-based position in the rendered text to the source line it came from, or
    /// reports the rendered line and says so.
    pub fn location(&self, line: usize, col: usize) -> Option<Location> {
        let rendered_lines: Vec<&str> = self.rendered.lines().collect();
        if rendered_lines.is_empty() {
            return self.source_location(1, 1);
        }
        // The end of the document: point at the last line.
        let line = line.clamp(1, rendered_lines.len());
        let rendered_line = rendered_lines[line - 1];
        match self.origin.get(line - 1).copied().flatten() {
            Some(index) => {
                let source_line = &self.source[index];
                let same = source_line == rendered_line;
                let indent = source_line.len() - source_line.trim_start().len();
                Some(Location {
                    line: index + 1,
                    col: if same { col } else { indent + 1 },
                    text: source_line.clone(),
                    rendered: false,
                    expanded: (!same).then(|| rendered_line.to_string()),
                })
            }
            None => Some(Location {
                line,
                col,
                text: rendered_line.to_string(),
                rendered: true,
                expanded: None,
            }),
        }
    }

    /// The location of a key path in the rendered text, mapped to the source.
    pub fn location_of(&self, path: &[Seg]) -> Option<Location> {
        let (line, col) = locate::find_nearest(&self.rendered, path)?;
        self.location(line, col)
    }
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
        let a = map.location(1, 4).unwrap();
        assert_eq!(a.expanded.as_deref(), Some("a: 1"));
    }

    #[test]
    fn loop_bodies_map_back_to_their_source_line() {
        let src =
            "s:\n{% for i in [1,2] %}\n  s{{ i }}:\n    dep: z\n{% endfor %}\n  g:\n    dep: z\n";
        let rendered = "s:\n\n  s1:\n    dep: z\n\n  s2:\n    dep: z\n\n  g:\n    dep: z\n";
        let map = SourceMap::new(src, rendered);
        // `dep: z` of s2 (rendered line 7) is line 4 of the loop body.
        assert_eq!(map.location(7, 5).unwrap().line, 4);
        // `s2:` maps to the loop's key line and shows what it rendered to.
        let s2 = map.location(6, 3).unwrap();
        assert_eq!((s2.line, s2.expanded.as_deref()), (3, Some("  s2:")));
        // `dep: z` of g (rendered line 10) is after the loop.
        assert_eq!(map.location(10, 5).unwrap().line, 7);
    }

    #[test]
    fn unknown_lines_are_reported_as_rendered() {
        let map = SourceMap::new("{{ body }}\n{% if x %}\n", "a: 1\nb: 2\nc: 3\n");
        let loc = map.location(2, 1).unwrap();
        assert!(loc.rendered);
        assert_eq!(loc.text, "b: 2");
    }

    #[test]
    fn empty_rendering_does_not_loop() {
        let map = SourceMap::new("{% if false %}x{% endif %}\n", "");
        assert_eq!(map.location(3, 1).unwrap().line, 1);
    }

    #[test]
    fn patterns_treat_tags_as_wildcards() {
        let p = pattern("  {{ p }}-service: {{ x }}").unwrap();
        assert!(matches(&p, "  user-service: 1"));
        assert!(!matches(&p, "  user-svc: 1"));
        assert!(pattern("{% for p in ps %}").is_none());
    }
}
