//! Environment values keep the text the user wrote.
//!
//! YAML reads an unquoted `VERSION: 1.10` as the number 1.1, and `ENABLED: TRUE` as the
//! boolean true; as environment variables those must stay `1.10` and `TRUE`. The YAML parser
//! keeps no source text, so each non-string scalar under `env` and `build.args` is looked up
//! in the rendered text and replaced by what is written there, when that text reads back as
//! the same value. A float whose text cannot be found is refused with a hint to quote it
//! (its canonical form may not be what was written); integers and booleans then keep their
//! canonical form.

use serde_yaml::{Mapping, Value};

use super::locate::{self, Seg};

/// A value that could not keep its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unwritten {
    pub path: Vec<Seg>,
    pub message: String,
    pub hint: String,
}

/// The keys of a service whose values are environment text.
const TEXT_MAPS: [&[&str]; 2] = [&["env"], &["build", "args"]];

/// Keeps the written text of every service's `env` and `build.args` values in a definition
/// document (`services.NAME....`).
pub fn keep_in_definition(document: &mut Value, rendered: &str) -> Vec<Unwritten> {
    let Some(services) = document.get_mut("services").and_then(Value::as_mapping_mut) else {
        return Vec::new();
    };
    let mut problems = Vec::new();
    for (name, service) in services.iter_mut() {
        let Some(name) = name.as_str() else { continue };
        let prefix = [Seg::key("services"), Seg::key(name)];
        problems.extend(keep_in_service(service, &prefix, rendered));
    }
    problems
}

/// Keeps the written text of one service's `env` and `build.args` values; `prefix` is the
/// service's path in `rendered`.
pub fn keep_in_service(service: &mut Value, prefix: &[Seg], rendered: &str) -> Vec<Unwritten> {
    let mut problems = Vec::new();
    for keys in TEXT_MAPS {
        let Some(map) = mapping_at(service, keys) else {
            continue;
        };
        for (key, value) in map.iter_mut() {
            let (Some(key), true) = (key.as_str(), is_typed_scalar(value)) else {
                continue;
            };
            let mut path = prefix.to_vec();
            path.extend(keys.iter().map(|k| Seg::key(k)));
            path.push(Seg::key(key));
            match written_text(rendered, &path, key, value) {
                Some(text) => *value = Value::String(text),
                None if value.is_f64() => problems.push(Unwritten {
                    message: format!(
                        "`{key}` is the unquoted number {}, which YAML may not keep as written",
                        super::values::scalar_text(value).unwrap_or_default()
                    ),
                    hint: format!("quote it, e.g. `{key}: \"1.10\"`, to keep the text exactly"),
                    path,
                }),
                None => {}
            }
        }
    }
    problems
}

fn mapping_at<'a>(value: &'a mut Value, keys: &[&str]) -> Option<&'a mut Mapping> {
    let mut current = value;
    for key in keys {
        current = current.as_mapping_mut()?.get_mut(*key)?;
    }
    current.as_mapping_mut()
}

/// Numbers and booleans: the scalars YAML reads as something other than text.
fn is_typed_scalar(value: &Value) -> bool {
    matches!(value, Value::Number(_) | Value::Bool(_))
}

/// The plain scalar written after `key:` at `path` in `rendered`, if it reads back as `value`.
fn written_text(rendered: &str, path: &[Seg], key: &str, value: &Value) -> Option<String> {
    let (line, col) = locate::find(rendered, path)?;
    // `find` answers the deepest part it found; only the key itself will do.
    let text = rendered.lines().nth(line - 1)?.get(col - 1..)?;
    let after_key = [
        format!("{key}:"),
        format!("\"{key}\":"),
        format!("'{key}':"),
    ]
    .iter()
    .find_map(|k| text.strip_prefix(k.as_str()))?;
    let scalar = after_key
        .split(" #")
        .next()?
        .split([',', '}', ']'])
        .next()?
        .trim();
    let reread: Value = serde_yaml::from_str(scalar).ok()?;
    (!scalar.is_empty() && reread == *value).then(|| scalar.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kept(text: &str) -> (Value, Vec<Unwritten>) {
        let mut doc: Value = serde_yaml::from_str(text).unwrap();
        let problems = keep_in_definition(&mut doc, text);
        (doc, problems)
    }

    #[test]
    fn numbers_and_booleans_keep_their_text() {
        let text = "services:\n  a:\n    env:\n      VERSION: 1.10\n      HEX: 0x1F\n      ON: TRUE  # yes\n      PORT: 8080\n      S: '1.10'\n    build:\n      context: .\n      args: { V: 2.50, W: 1e3 }\n";
        let (doc, problems) = kept(text);
        assert_eq!(problems, []);
        let env = &doc["services"]["a"]["env"];
        assert_eq!(env["VERSION"], Value::String("1.10".into()));
        assert_eq!(env["HEX"], Value::String("0x1F".into()));
        assert_eq!(env["ON"], Value::String("TRUE".into()));
        assert_eq!(env["PORT"], Value::String("8080".into()));
        assert_eq!(env["S"], Value::String("1.10".into()));
        let args = &doc["services"]["a"]["build"]["args"];
        assert_eq!(args["V"], Value::String("2.50".into()));
        assert_eq!(args["W"], Value::String("1e3".into()));
    }

    #[test]
    fn a_float_whose_text_is_not_found_is_refused_with_a_hint() {
        let mut doc: Value = serde_yaml::from_str("services: { a: { env: { V: 1.10 } } }").unwrap();
        // Text that does not show the value (as if it came from elsewhere).
        let problems = keep_in_definition(&mut doc, "services:\n  a:\n    env:\n      V: x\n");
        assert_eq!(problems.len(), 1);
        assert!(problems[0].hint.contains("quote it"), "{problems:?}");
        let mut doc: Value = serde_yaml::from_str("services: { a: { env: { P: 80 } } }").unwrap();
        assert_eq!(keep_in_definition(&mut doc, ""), []);
        assert_eq!(doc["services"]["a"]["env"]["P"], Value::Number(80.into()));
    }
}
