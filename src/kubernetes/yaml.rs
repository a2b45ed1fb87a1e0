//! Block-style YAML for manifests, written so that every reader agrees on every value.
//!
//! A general YAML library writes `no`, `on` or `0755` unquoted because YAML 1.2 reads them as
//! strings; kubectl's parser and PyYAML follow YAML 1.1 and read `no` as false (a redis
//! `--appendonly no` argument became a boolean the schema refused). Here a string stays plain
//! only when it starts with a letter, `_` or `/`, uses a small safe alphabet and is no YAML 1.1
//! keyword; anything else is written as a JSON string, which is valid double-quoted YAML.

use serde_json::{Map, Value};

/// One document, ending in a newline.
pub fn document(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(map) if !map.is_empty() => mapping(map, 0, false, &mut out),
        Value::Array(items) if !items.is_empty() => sequence(items, 0, &mut out),
        other => {
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
    out
}

/// `first_inline`: the first key continues a `- ` already written.
fn mapping(map: &Map<String, Value>, indent: usize, first_inline: bool, out: &mut String) {
    for (i, (key, value)) in map.iter().enumerate() {
        if i > 0 || !first_inline {
            out.push_str(&" ".repeat(indent));
        }
        out.push_str(&string(key));
        out.push(':');
        match value {
            Value::Object(inner) if !inner.is_empty() => {
                out.push('\n');
                mapping(inner, indent + 2, false, out);
            }
            Value::Array(items) if !items.is_empty() => {
                out.push('\n');
                sequence(items, indent + 2, out);
            }
            other => {
                out.push(' ');
                out.push_str(&scalar(other));
                out.push('\n');
            }
        }
    }
}

fn sequence(items: &[Value], indent: usize, out: &mut String) {
    for item in items {
        out.push_str(&" ".repeat(indent));
        out.push('-');
        match item {
            Value::Object(map) if !map.is_empty() => {
                out.push(' ');
                mapping(map, indent + 2, true, out);
            }
            Value::Array(inner) if !inner.is_empty() => {
                out.push('\n');
                sequence(inner, indent + 2, out);
            }
            other => {
                out.push(' ');
                out.push_str(&scalar(other));
                out.push('\n');
            }
        }
    }
}

fn scalar(value: &Value) -> String {
    match value {
        Value::String(s) => string(s),
        Value::Object(_) => "{}".into(),
        Value::Array(_) => "[]".into(),
        // null, booleans and numbers print the same in JSON and YAML.
        other => other.to_string(),
    }
}

/// YAML 1.1 reads these (in any case) as booleans or null when plain.
const KEYWORDS: &[&str] = &["y", "n", "yes", "no", "on", "off", "true", "false", "null"];

fn string(s: &str) -> String {
    let safe_start = s.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_' || c == '/');
    let safe_chars = s
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/'));
    if safe_start && safe_chars && !KEYWORDS.contains(&s.to_ascii_lowercase().as_str()) {
        s.to_string()
    } else {
        Value::String(s.to_string()).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strings_other_readers_would_retype_are_quoted() {
        for (text, want) in [
            ("no", "\"no\""),
            ("On", "\"On\""),
            ("y", "\"y\""),
            ("20884", "\"20884\""),
            ("0755", "\"0755\""),
            ("1e3", "\"1e3\""),
            ("", "\"\""),
            ("a: b", "\"a: b\""),
            ("<host port of a:1>", "\"<host port of a:1>\""),
            ("line\nbreak", "\"line\\nbreak\""),
            ("envctl/redis:7", "\"envctl/redis:7\""),
            ("io.envctl.instance", "io.envctl.instance"),
            (
                "app.kubernetes.io/managed-by",
                "app.kubernetes.io/managed-by",
            ),
            ("/var/lib/mysql", "/var/lib/mysql"),
            ("nobody", "nobody"),
        ] {
            assert_eq!(string(text), want, "{text:?}");
        }
    }

    #[test]
    fn nesting_is_block_style_and_reads_back_as_the_same_value() {
        let value = json!({
            "kind": "Deployment",
            "spec": {
                "replicas": 1,
                "args": ["--appendonly", "no"],
                "empty": {},
                "none": [],
                "containers": [{ "name": "a", "ports": [{ "containerPort": 80 }] }],
                "nested": [[1, 2]],
                "flag": true,
                "gone": null,
            },
        });
        let text = document(&value);
        assert!(
            text.contains("  args:\n    - \"--appendonly\"\n    - \"no\"\n"),
            "{text}"
        );
        assert!(
            text.contains("    - name: a\n      ports:\n        - containerPort: 80\n"),
            "{text}"
        );
        let back: Value = serde_yaml::from_str(&text).unwrap();
        assert_eq!(back, value, "{text}");
    }
}
