//! `overlay: { services: [...] }`: the services a feature may fork as an overlay
//! (`up --feature F --only ...`, or all of them with `--overlay`). Each must be a service of
//! the definition; the list is read after the services resolve, so a typo names what exists.

use std::collections::BTreeMap;

use serde_yaml::{Mapping, Value};

use super::document::Loader;
use super::locate::Seg;
use crate::model::{Service, ServiceName};

/// The declared services, `None` without `overlay:`; problems go to `loader`.
pub fn declared(
    loader: &mut Loader,
    top: &Mapping,
    services: &BTreeMap<ServiceName, Service>,
) -> Option<Vec<ServiceName>> {
    let overlay = top.get("overlay")?;
    let at = [Seg::key("overlay"), Seg::key("services")];
    let Some(Value::Sequence(items)) = overlay.get("services") else {
        loader.at(
            &at[..1],
            "overlay: needs `services:`, a list of the services a feature may fork",
            Some("e.g. `overlay: { services: [payment-service] }`".into()),
        );
        return None;
    };
    let known: Vec<&str> = services.keys().map(ServiceName::as_str).collect();
    let mut declared = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let found = item
            .as_str()
            .and_then(|name| services.get_key_value(name))
            .map(|(name, _)| name.clone());
        match found {
            Some(name) if !declared.contains(&name) => declared.push(name),
            Some(name) => loader.at(
                &[at[0].clone(), at[1].clone(), Seg::Index(i)],
                format!("overlay.services: `{name}` is listed twice"),
                None,
            ),
            None => loader.at(
                &[at[0].clone(), at[1].clone(), Seg::Index(i)],
                format!(
                    "overlay.services: `{}` is not a service of this definition",
                    super::values::scalar_text(item).unwrap_or_else(|| "?".into())
                ),
                Some(format!("services are: {}", known.join(", "))),
            ),
        }
    }
    if items.is_empty() {
        loader.at(
            &at,
            "overlay.services is empty: list the services a feature may fork",
            None,
        );
    }
    Some(declared)
}
