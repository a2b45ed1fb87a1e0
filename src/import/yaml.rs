//! Compose files as YAML trees that remember where each node was written.
//!
//! Every line of the import report names the Compose file and line of what it talks about, and
//! serde's `Value` forgets positions, so files are read with yaml-rust2's event parser into
//! [`Node`]s that carry their file and line. Anchors and aliases are expanded and `<<` merge
//! keys applied here, as YAML defines them, so later steps see the tree Compose sees; a node
//! copied through an alias keeps the line of the anchor it came from.

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// Where a node was written: an index into the list of files read, and a 1-based line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct At {
    pub file: usize,
    pub line: usize,
}

#[derive(Debug, Clone)]
pub struct Node {
    pub value: Value,
    pub at: At,
    /// A local tag such as `reset` or `override` (Compose's `!reset`, `!override`).
    pub tag: Option<String>,
}

#[derive(Debug, Clone)]
pub enum Value {
    Null,
    /// The text and whether it was written plain (unquoted), which decides whether `true` or
    /// `80` is a boolean or number rather than a string.
    Scalar(String, bool),
    Seq(Vec<Node>),
    Map(Vec<Entry>),
}

#[derive(Debug, Clone)]
pub struct Entry {
    pub key: String,
    /// Where the key was written: what a report about this entry points at.
    pub at: At,
    pub value: Node,
}

impl Node {
    pub fn new(value: Value, at: At) -> Self {
        Self {
            value,
            at,
            tag: None,
        }
    }

    /// The text of a scalar (numbers and booleans as written); `None` for other nodes.
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar(s, _) => Some(s),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&[Entry]> {
        match &self.value {
            Value::Map(entries) => Some(entries),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.value {
            Value::Seq(items) => Some(items),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.value, Value::Null)
    }

    /// The entry under `key` of a mapping.
    pub fn entry(&self, key: &str) -> Option<&Entry> {
        self.as_map()?.iter().find(|e| e.key == key)
    }

    /// The value under `key` of a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|e| &e.value)
    }

    /// A short description of the node's shape, for messages.
    pub fn kind(&self) -> &'static str {
        match self.value {
            Value::Null => "null",
            Value::Scalar(..) => "a scalar",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }
}

/// Where and why a compose file is not YAML; shown as `line:col: message`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{line}:{col}: {message}")]
pub struct SyntaxError {
    pub line: usize,
    /// 1-based.
    pub col: usize,
    pub message: String,
}

/// Parses one file's text.
pub fn parse(text: &str, file: usize) -> Result<Node, SyntaxError> {
    let mut builder = Builder {
        file,
        stack: Vec::new(),
        anchors: Vec::new(),
        root: None,
    };
    let mut parser = Parser::new_from_str(text);
    parser.load(&mut builder, false).map_err(|e| {
        let m = e.marker();
        SyntaxError {
            line: m.line(),
            col: m.col() + 1,
            message: e.info().to_string(),
        }
    })?;
    Ok(builder
        .root
        .unwrap_or_else(|| Node::new(Value::Null, At { file, line: 1 })))
}

enum Open {
    Seq(Node, usize),
    /// A mapping being read: its node, anchor id, and a key waiting for its value.
    Map(Node, usize, Option<(String, At)>),
}

struct Builder {
    file: usize,
    stack: Vec<Open>,
    anchors: Vec<(usize, Node)>,
    root: Option<Node>,
}

fn local_tag(tag: Option<yaml_rust2::parser::Tag>) -> Option<String> {
    tag.filter(|t| t.handle == "!").map(|t| t.suffix)
}

fn scalar(text: String, style: TScalarStyle) -> Value {
    let plain = style == TScalarStyle::Plain;
    if plain && matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL") {
        Value::Null
    } else {
        Value::Scalar(text, plain)
    }
}

impl Builder {
    fn at(&self, mark: Marker) -> At {
        At {
            file: self.file,
            // yaml-rust2 counts lines from 1 and columns from 0.
            line: mark.line().max(1),
        }
    }

    /// Places a finished node in its parent (or as the root) and records its anchor.
    fn complete(&mut self, node: Node, anchor: usize) {
        if anchor > 0 {
            self.anchors.push((anchor, node.clone()));
        }
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Open::Seq(seq, _)) => {
                if let Value::Seq(items) = &mut seq.value {
                    items.push(node);
                }
            }
            Some(Open::Map(map, _, pending)) => match pending.take() {
                None => {
                    // A key: keys are scalars in Compose files; others are written as text.
                    let key = node.as_str().map(str::to_string).unwrap_or_default();
                    *pending = Some((key, node.at));
                }
                Some((key, at)) => {
                    if let Value::Map(entries) = &mut map.value {
                        entries.push(Entry {
                            key,
                            at,
                            value: node,
                        });
                    }
                }
            },
        }
    }
}

/// Applies `<<` merge keys: the merged mappings' entries that the mapping does not set itself
/// are added where the `<<` was; with a list of mappings, earlier ones win.
fn apply_merge_keys(entries: Vec<Entry>) -> Vec<Entry> {
    if !entries.iter().any(|e| e.key == "<<") {
        return entries;
    }
    let own: Vec<String> = entries
        .iter()
        .filter(|e| e.key != "<<")
        .map(|e| e.key.clone())
        .collect();
    let mut out: Vec<Entry> = Vec::new();
    for entry in entries {
        if entry.key != "<<" {
            out.push(entry);
            continue;
        }
        let sources: Vec<Node> = match entry.value.value {
            Value::Seq(items) => items,
            _ => vec![entry.value],
        };
        for source in sources {
            for merged in source.as_map().unwrap_or_default() {
                let taken = own.contains(&merged.key) || out.iter().any(|e| e.key == merged.key);
                if !taken {
                    out.push(merged.clone());
                }
            }
        }
    }
    out
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        let at = self.at(mark);
        match ev {
            Event::Scalar(text, style, anchor, tag) => {
                let mut node = Node::new(scalar(text, style), at);
                node.tag = local_tag(tag);
                self.complete(node, anchor);
            }
            Event::Alias(id) => {
                let node = self
                    .anchors
                    .iter()
                    .rev()
                    .find(|(a, _)| *a == id)
                    .map(|(_, n)| n.clone())
                    .unwrap_or_else(|| Node::new(Value::Null, at));
                self.complete(node, 0);
            }
            Event::SequenceStart(anchor, tag) => {
                let mut node = Node::new(Value::Seq(Vec::new()), at);
                node.tag = local_tag(tag);
                self.stack.push(Open::Seq(node, anchor));
            }
            Event::MappingStart(anchor, tag) => {
                let mut node = Node::new(Value::Map(Vec::new()), at);
                node.tag = local_tag(tag);
                self.stack.push(Open::Map(node, anchor, None));
            }
            Event::SequenceEnd => {
                if let Some(Open::Seq(node, anchor)) = self.stack.pop() {
                    self.complete(node, anchor);
                }
            }
            Event::MappingEnd => {
                if let Some(Open::Map(mut node, anchor, _)) = self.stack.pop() {
                    if let Value::Map(entries) = node.value {
                        node.value = Value::Map(apply_merge_keys(entries));
                    }
                    self.complete(node, anchor);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_know_their_lines() {
        let doc = parse("a:\n  b: 1\n  c: [x, y]\n", 0).unwrap();
        let a = doc.entry("a").unwrap();
        assert_eq!(a.at.line, 1);
        assert_eq!(a.value.entry("c").unwrap().at.line, 3);
        assert_eq!(a.value.get("b").unwrap().as_str(), Some("1"));
    }

    #[test]
    fn merge_keys_add_what_the_mapping_does_not_set() {
        let text = "x-base: &base\n  image: a\n  restart: always\ns:\n  <<: *base\n  image: b\n";
        let doc = parse(text, 0).unwrap();
        let s = doc.get("s").unwrap();
        assert_eq!(s.get("image").unwrap().as_str(), Some("b"));
        let restart = s.entry("restart").unwrap();
        assert_eq!(
            (restart.value.as_str(), restart.at.line),
            (Some("always"), 3)
        );
    }

    #[test]
    fn tags_and_nulls_are_kept() {
        let doc = parse("p: !reset []\nq:\nr: 'null'\n", 0).unwrap();
        assert_eq!(doc.get("p").unwrap().tag.as_deref(), Some("reset"));
        assert!(doc.get("q").unwrap().is_null());
        assert_eq!(doc.get("r").unwrap().as_str(), Some("null"));
    }

    #[test]
    fn syntax_errors_name_the_line() {
        let err = parse("a: [1,\nb: 2\n", 0).unwrap_err().to_string();
        assert!(err.starts_with("2:") || err.starts_with("3:"), "{err}");
    }
}
