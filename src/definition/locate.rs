//! Finds where a key path (`services.cache.healthcheck.tcp`) sits in YAML text.
//!
//! serde_yaml's `Value` forgets positions, but every problem we report must name a line. Block
//! style is found by indentation; flow style (`{ tcp: 1 }`, `[1, 2]`) by searching the parent's
//! line. A heuristic, so callers fall back to the nearest ancestor it does find.

/// One step of a path into a YAML document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    Key(String),
    Index(usize),
}

impl Seg {
    pub fn key(k: &str) -> Self {
        Seg::Key(k.to_string())
    }
}

/// Formats a path for messages: `services.cache.ports[1]`.
pub fn display_path(path: &[Seg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Seg::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

fn indent_of(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

fn is_blank_or_comment(line: &str) -> bool {
    let t = line.trim();
    t.is_empty() || t.starts_with('#')
}

/// Column (0-based byte offset) at which `key:` starts as a mapping key in `line`, after `from`.
fn key_position(line: &str, key: &str, from: usize) -> Option<usize> {
    let candidates = [
        format!("{key}:"),
        format!("\"{key}\":"),
        format!("'{key}':"),
    ];
    let hay = line.get(from..)?;
    let mut best: Option<usize> = None;
    for cand in &candidates {
        let mut start = 0;
        while let Some(pos) = hay[start..].find(cand.as_str()) {
            let abs = start + pos;
            let before = hay[..abs].chars().last();
            let ok_before = matches!(before, None | Some(' ' | '{' | ',' | '-'));
            let after = hay[abs + cand.len()..].chars().next();
            let ok_after = matches!(after, None | Some(' ' | '\t'));
            if ok_before && ok_after {
                best = Some(best.map_or(abs, |b: usize| b.min(abs)));
                break;
            }
            start = abs + 1;
        }
    }
    best.map(|p| p + from)
}

/// Returns the 1-based (line, column) of the deepest part of `path` that can be found.
pub fn find(text: &str, path: &[Seg]) -> Option<(usize, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    // The current node: its line, the column its content starts at, and its indentation.
    let mut current: Option<(usize, usize)> = None;
    let mut parent_indent: isize = -1;
    let mut inline = false;
    for seg in path {
        let start = current.map_or(0, |(l, _)| l + 1);
        if !inline {
            // The child region: following lines indented deeper than the parent.
            let region: Vec<usize> = (start..lines.len())
                .take_while(|&i| {
                    is_blank_or_comment(lines[i]) || indent_of(lines[i]) as isize > parent_indent
                })
                .filter(|&i| !is_blank_or_comment(lines[i]))
                .collect();
            // A sequence item's own mapping starts on the `- ` line itself.
            let same_line_first = current.filter(|(l, c)| !lines[*l][*c..].trim_start().is_empty());
            let found = match seg {
                Seg::Key(k) => {
                    let on_item_line = same_line_first
                        .and_then(|(l, c)| key_position(lines[l], k, c).map(|col| (l, col)));
                    on_item_line.or_else(|| {
                        let child_indent = region.first().map(|&i| indent_of(lines[i]))?;
                        region
                            .iter()
                            .filter(|&&i| indent_of(lines[i]) == child_indent)
                            .find_map(|&i| key_position(lines[i], k, child_indent).map(|c| (i, c)))
                    })
                }
                Seg::Index(n) => {
                    let child_indent = region.first().map(|&i| indent_of(lines[i]));
                    child_indent.and_then(|ci| {
                        region
                            .iter()
                            .filter(|&&i| {
                                indent_of(lines[i]) == ci && lines[i][ci..].starts_with('-')
                            })
                            .nth(*n)
                            .map(|&i| (i, ci))
                    })
                }
            };
            match found {
                Some((line, col)) => {
                    parent_indent = indent_of(lines[line]) as isize;
                    // Content of a `- key: v` item lives at the column after the dash.
                    let content_col = match seg {
                        Seg::Index(_) => {
                            col + 1 + lines[line][col + 1..].len()
                                - lines[line][col + 1..].trim_start().len()
                        }
                        Seg::Key(_) => col,
                    };
                    if matches!(seg, Seg::Index(_)) {
                        parent_indent = col as isize;
                    }
                    current = Some((line, content_col));
                    continue;
                }
                None => {
                    // Maybe the value is written in flow style on the parent's line.
                    inline = true;
                }
            }
        }
        let (line, col) = current?;
        match seg {
            Seg::Key(k) => match key_position(lines[line], k, col + 1) {
                Some(c) => current = Some((line, c)),
                None => return None,
            },
            Seg::Index(_) => return None,
        }
    }
    current.map(|(line, col)| (line + 1, col + 1))
}

/// Like [`find`], but falls back to the nearest ancestor that can be found.
pub fn find_nearest(text: &str, path: &[Seg]) -> Option<(usize, usize)> {
    (0..=path.len())
        .rev()
        .find_map(|n| if n == 0 { None } else { find(text, &path[..n]) })
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "\
name: x
services:
  cache:
    image: redis
    ports: [6379, 80]
    healthcheck: { tcp: 6379, intervall: 1s }
  web:
    image: nginx
    volumes:
      - data:/x
      - ./c:/y
    depends_on:
      cache: healthy
";

    fn keys(p: &str) -> Vec<Seg> {
        p.split('.').map(Seg::key).collect()
    }

    #[test]
    fn finds_block_keys() {
        assert_eq!(find(DOC, &keys("services.web.image")), Some((8, 5)));
        assert_eq!(
            find(DOC, &keys("services.web.depends_on.cache")),
            Some((13, 7))
        );
        assert_eq!(find(DOC, &keys("name")), Some((1, 1)));
    }

    #[test]
    fn finds_flow_keys_on_the_parent_line() {
        assert_eq!(
            find(DOC, &keys("services.cache.healthcheck.intervall")),
            Some((6, 31))
        );
    }

    #[test]
    fn finds_sequence_items() {
        let mut p = keys("services.web.volumes");
        p.push(Seg::Index(1));
        assert_eq!(find(DOC, &p), Some((11, 9)));
    }

    #[test]
    fn falls_back_to_the_nearest_ancestor() {
        assert_eq!(find_nearest(DOC, &keys("services.web.nope")), Some((7, 3)));
        assert_eq!(find(DOC, &keys("services.web.nope")), None);
    }

    #[test]
    fn keys_inside_a_sequence_item_mapping() {
        let doc = "a:\n  - x: 1\n    y: 2\n";
        let mut p = vec![Seg::key("a"), Seg::Index(0), Seg::key("y")];
        assert_eq!(find(doc, &p), Some((3, 5)));
        p[2] = Seg::key("x");
        assert_eq!(find(doc, &p), Some((2, 5)));
    }
}
