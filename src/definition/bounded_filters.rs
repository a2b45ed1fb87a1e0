//! Tera's `replace` and `join` filters, refusing to build a string over the output budget
//! before allocating it: one `replace` of a long text by itself would otherwise take
//! gigabytes in a single step that no loop checkpoint sees. Same behaviour as Tera's own
//! otherwise, including how autoescaping treats safe strings.

use std::borrow::Cow;

use tera::{Kwargs, State, StringInput, Tera, TeraResult, Value};

use super::budget;

/// Registers the bounded filters in place of Tera's.
pub fn register(tera: &mut Tera) {
    tera.register_filter("replace", replace);
    tera.register_filter("join", join);
}

fn too_long(err: budget::TooLong) -> tera::Error {
    tera::Error::message(err.to_string())
}

fn replace(val: StringInput, kwargs: Kwargs, state: &State) -> TeraResult<Value> {
    let from = kwargs.must_get::<&str>("from")?;
    let to = kwargs.must_get::<StringInput>("to")?;
    let be_safe = state.autoescaping_enabled() && (val.is_safe() || to.is_safe());
    if be_safe {
        let (text, to) = (val.rendered(state)?, to.rendered(state)?);
        budget::check_string_len("replace", budget::replaced_len(&text, from, &to))
            .map_err(too_long)?;
        Ok(Value::safe_string(&text.replace(from, &to)))
    } else {
        let (text, to) = (val.as_str(), to.as_str());
        budget::check_string_len("replace", budget::replaced_len(text, from, to))
            .map_err(too_long)?;
        Ok(Value::from(text.replace(from, to)))
    }
}

fn join(val: &[Value], kwargs: Kwargs, state: &State) -> TeraResult<Value> {
    let sep = kwargs.get::<StringInput>("sep")?;
    let be_safe = state.autoescaping_enabled()
        && (val.iter().any(|x| x.is_string() && x.is_safe())
            || sep.as_ref().is_some_and(|x| x.is_safe()));
    let (parts, sep): (Vec<String>, Cow<'_, str>) = if be_safe {
        let mut parts = Vec::with_capacity(val.len());
        for v in val {
            parts.push(if v.is_undefined() {
                String::new()
            } else {
                state.escape_if_needed(v)?
            });
        }
        let sep = match &sep {
            Some(s) => s.rendered(state)?,
            None => Cow::Borrowed(""),
        };
        (parts, sep)
    } else {
        let parts = val.iter().map(|x| format!("{x}")).collect();
        (
            parts,
            Cow::Borrowed(sep.as_ref().map_or("", |s| s.as_str())),
        )
    };
    let len = parts
        .iter()
        .map(String::len)
        .sum::<usize>()
        .saturating_add(parts.len().saturating_sub(1).saturating_mul(sep.len()));
    budget::check_string_len("join", len).map_err(too_long)?;
    let joined = parts.join(&sep);
    Ok(if be_safe {
        Value::safe_string(&joined)
    } else {
        Value::from(joined)
    })
}
