//! The known keys of the format, so every unknown key is reported in one run, with its path
//! and the closest known key. Keep in step with the structs in `format`.

use serde_yaml::Value;

use super::locate::Seg;

/// What is allowed at one place in the document.
#[derive(Debug)]
pub enum Shape {
    /// A mapping with these keys only.
    Fields(&'static [(&'static str, Shape)]),
    /// A mapping with free keys (service names, env names), each value of this shape.
    MapOf(&'static Shape),
    /// Anything; checked elsewhere.
    Any,
}

const HTTP: &[(&str, Shape)] = &[("port", Shape::Any), ("path", Shape::Any)];
const DUBBO: &[(&str, Shape)] = &[
    ("interface", Shape::Any),
    ("application", Shape::Any),
    ("registry", Shape::Any),
];

const HEALTHCHECK: &[(&str, Shape)] = &[
    ("cmd", Shape::Any),
    ("tcp", Shape::Any),
    ("http", Shape::Fields(HTTP)),
    ("zookeeper", Shape::Any),
    ("dubbo", Shape::Fields(DUBBO)),
    ("interval", Shape::Any),
    ("timeout", Shape::Any),
    ("retries", Shape::Any),
    ("start_period", Shape::Any),
];

const BUILD: &[(&str, Shape)] = &[
    ("context", Shape::Any),
    ("dockerfile", Shape::Any),
    ("args", Shape::Any),
];

const RESOURCES: &[(&str, Shape)] = &[("memory", Shape::Any), ("cpus", Shape::Any)];

pub const SERVICE_FIELDS: &[(&str, Shape)] = &[
    ("template", Shape::Any),
    ("with", Shape::Any),
    ("kind", Shape::Any),
    ("image", Shape::Any),
    ("pull", Shape::Any),
    ("build", Shape::Fields(BUILD)),
    ("ports", Shape::Any),
    ("env", Shape::Any),
    ("depends_on", Shape::Any),
    ("healthcheck", Shape::Fields(HEALTHCHECK)),
    ("volumes", Shape::Any),
    ("resources", Shape::Fields(RESOURCES)),
    ("restart", Shape::Any),
    ("command", Shape::Any),
    ("entrypoint", Shape::Any),
    ("aliases", Shape::Any),
    ("privileged", Shape::Any),
    ("network_mode", Shape::Any),
    ("pid", Shape::Any),
    ("init", Shape::Any),
    ("sql_client", Shape::Any),
];

pub const SERVICE: Shape = Shape::Fields(SERVICE_FIELDS);

const LIBRARY: &[(&str, Shape)] = &[
    ("path", Shape::Any),
    ("git", Shape::Any),
    ("ref", Shape::Any),
    ("dir", Shape::Any),
];

pub const DEFINITION: Shape = Shape::Fields(&[
    ("name", Shape::Any),
    ("description", Shape::Any),
    ("ttl", Shape::Any),
    ("extends", Shape::Any),
    ("libraries", Shape::MapOf(&Shape::Fields(LIBRARY))),
    ("services", Shape::MapOf(&SERVICE)),
    ("allow", Shape::Any),
    ("overlay", Shape::Fields(&[("services", Shape::Any)])),
]);

pub const TEMPLATE_BODY: Shape = Shape::Fields(&[
    ("description", Shape::Any),
    ("params", Shape::Any),
    ("service", SERVICE),
]);

/// An unknown key: where it is, and the keys allowed there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownKey {
    pub path: Vec<Seg>,
    pub key: String,
    pub known: Vec<&'static str>,
}

/// Every unknown key in `value`, depth first, in document order.
pub fn unknown_keys(value: &Value, shape: &Shape) -> Vec<UnknownKey> {
    let mut found = Vec::new();
    walk(value, shape, &mut Vec::new(), &mut found);
    found
}

fn walk(value: &Value, shape: &Shape, path: &mut Vec<Seg>, found: &mut Vec<UnknownKey>) {
    let Some(map) = value.as_mapping() else {
        return; // wrong shapes are reported by the typed parse
    };
    match shape {
        Shape::Any => {}
        Shape::MapOf(inner) => {
            for (key, child) in map {
                if let Some(key) = key.as_str() {
                    path.push(Seg::key(key));
                    walk(child, inner, path, found);
                    path.pop();
                }
            }
        }
        Shape::Fields(fields) => {
            for (key, child) in map {
                let key_text = match key.as_str() {
                    Some(k) => k.to_string(),
                    None => serde_yaml::to_string(key)
                        .unwrap_or_default()
                        .trim()
                        .to_string(),
                };
                match fields.iter().find(|(name, _)| *name == key_text) {
                    Some((_, inner)) => {
                        path.push(Seg::key(&key_text));
                        walk(child, inner, path, found);
                        path.pop();
                    }
                    None => found.push(UnknownKey {
                        path: path.clone(),
                        key: key_text,
                        known: fields.iter().map(|(name, _)| *name).collect(),
                    }),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_every_unknown_key_with_its_path() {
        let doc: Value = serde_yaml::from_str(
            "nmae: x\nservices:\n  a:\n    imgae: r\n    healthcheck: { tcp: 1, intervall: 2s }\n  b:\n    env: { ANY_KEY: 1 }\n",
        )
        .unwrap();
        let found = unknown_keys(&doc, &DEFINITION);
        let keys: Vec<_> = found.iter().map(|u| u.key.as_str()).collect();
        assert_eq!(keys, ["nmae", "imgae", "intervall"]);
        assert_eq!(
            super::super::locate::display_path(&found[2].path),
            "services.a.healthcheck"
        );
    }
}
