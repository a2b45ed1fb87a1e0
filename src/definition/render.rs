//! Tera rendering of definition files and service templates.
//!
//! Tera 2 is sandboxed: no environment or file access from templates, and undefined variables
//! are errors. We add one function, `host_port`, which renders the placeholder token the
//! planner replaces with the allocated host port.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;
use tera::{Context, ErrorKind, Kwargs, State, Tera, TeraResult, Value};

use super::{bounded_filters, budget};
use crate::model::host_port_token;

/// What every definition and template sees.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RenderContext {
    pub env: String,
    /// Empty when there is no feature.
    pub feature: String,
    pub instance: String,
    pub set: BTreeMap<String, String>,
    pub advertise_host: String,
    /// The Dubbo tag an overlay's services carry (its feature); empty for other instances.
    /// Not `tag`: definitions commonly `{% set tag = ... %}` for an image tag.
    pub dubbo_tag: String,
    /// When rendering everything this definition needs must be done (`budget::RENDER_TIME`
    /// from the start of loading); `None`: the budget starts with each rendering.
    #[serde(skip)]
    pub deadline: Option<Instant>,
}

/// A Tera failure, with its position in the Tera source when Tera knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderFailure {
    pub message: String,
    /// 1-based line and column in the source.
    pub position: Option<(usize, usize)>,
}

/// The variables every definition sees (`{{ env }}`, ...); a template also sees `service`.
/// Params and imported variables may not take these names.
pub const CONTEXT_VARIABLES: &[&str] = &[
    "env",
    "feature",
    "instance",
    "set",
    "advertise_host",
    "dubbo_tag",
];

fn host_port_function(
    current_service: Option<String>,
) -> impl Fn(Kwargs, &State) -> TeraResult<String> + Sync + Send + 'static {
    move |kwargs: Kwargs, _: &State| {
        let port_value = kwargs.must_get::<Value>("port")?;
        let port = port_value
            .as_i64()
            .or_else(|| port_value.as_str().and_then(|s| s.parse().ok()))
            .and_then(|p| u16::try_from(p).ok())
            .filter(|p| *p > 0)
            .ok_or_else(|| {
                tera::Error::message(format!(
                    "host_port: `port` must be a port number (1-65535), got `{port_value}`"
                ))
            })?;
        let service = match kwargs.get::<String>("service")? {
            Some(service) => service,
            None => current_service.clone().ok_or_else(|| {
                tera::Error::message(
                    "host_port: outside a service template, name the service: host_port(service=\"NAME\", port=N)",
                )
            })?,
        };
        Ok(host_port_token::format(&service, port))
    }
}

/// Renders `source` with the context, plus `extra` variables (template params) and, inside a
/// service template, the name of the service being made (for `host_port(port=N)` and as
/// `service`). Bounded by the budgets of `budget`: the rendering runs on a worker thread and
/// is given up shortly after the deadline even if Tera is still busy.
pub fn render(
    source: &str,
    ctx: &RenderContext,
    extra: &BTreeMap<String, serde_json::Value>,
    service: Option<&str>,
) -> Result<String, RenderFailure> {
    let deadline = ctx
        .deadline
        .unwrap_or_else(|| Instant::now() + budget::RENDER_TIME);
    let progress = budget::Progress::new(deadline);
    let instrumented = budget::instrument(source);
    let job = {
        let (text, ctx, extra) = (instrumented.text.clone(), ctx.clone(), extra.clone());
        let (service, progress) = (service.map(str::to_string), progress.clone());
        move || render_bounded(&text, &ctx, &extra, service.as_deref(), progress)
    };
    let (sender, receiver) = std::sync::mpsc::channel();
    // Tera recurses while rendering: give the worker the main thread's stack size.
    let spawned = std::thread::Builder::new()
        .name("envctl-render".into())
        .stack_size(8 * 1024 * 1024)
        .spawn(move || {
            let _ = sender.send(job());
        });
    let result = match spawned {
        Ok(_) => {
            let wait = deadline.saturating_duration_since(Instant::now()) + budget::GRACE;
            match receiver.recv_timeout(wait) {
                Ok(result) => result,
                // Still busy where no checkpoint is reached: leave the thread behind; the
                // error ends the command and with it the process.
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => Err(None),
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => Err(Some(RenderFailure {
                    message: "rendering failed unexpectedly".into(),
                    position: None,
                })),
            }
        }
        Err(_) => render_bounded(&instrumented.text, ctx, extra, service, progress.clone()),
    };
    result.map_err(|failure| {
        // No answer at all means the worker was still busy at the deadline.
        let exceeded = progress
            .exceeded()
            .or_else(|| failure.is_none().then_some(budget::Exceeded::Time));
        match (exceeded, failure) {
            (None, Some(failure)) => RenderFailure {
                position: failure.position.map(|(line, col)| {
                    let (line, col) = instrumented.source_position(line, col.saturating_sub(1));
                    (line, col + 1)
                }),
                ..failure
            },
            // A budget ran out: name the loop that was running, if any.
            (exceeded, _) => RenderFailure {
                message: exceeded.unwrap_or(budget::Exceeded::Time).message(),
                position: progress.last_loop_line().map(|line| {
                    let text = source.lines().nth(line - 1).unwrap_or("");
                    (line, text.len() - text.trim_start().len() + 1)
                }),
            },
        }
    })
}

/// Renders on the current thread, into a buffer bounded by the output budget.
fn render_bounded(
    source: &str,
    ctx: &RenderContext,
    extra: &BTreeMap<String, serde_json::Value>,
    service: Option<&str>,
    progress: Arc<budget::Progress>,
) -> Result<String, Option<RenderFailure>> {
    let mut tera = Tera::new();
    tera.register_function("host_port", host_port_function(service.map(str::to_string)));
    bounded_filters::register(&mut tera);
    // Work that reaches no checkpoint, for the test of the worker-thread backstop.
    #[cfg(test)]
    tera.register_function(
        "__test_sleep",
        |kwargs: Kwargs, _: &State| -> TeraResult<String> {
            let ms = kwargs.must_get::<i64>("ms")?;
            std::thread::sleep(std::time::Duration::from_millis(ms.unsigned_abs()));
            Ok(String::new())
        },
    );
    let checkpoints = progress.clone();
    tera.register_function(
        budget::CHECKPOINT,
        move |kwargs: Kwargs, _: &State| -> TeraResult<String> {
            let line = kwargs.must_get::<i64>("line")?;
            checkpoints
                .checkpoint(usize::try_from(line).unwrap_or(0))
                .map_err(|exceeded| tera::Error::message(exceeded.message()))?;
            Ok(String::new())
        },
    );
    let mut context = Context::new();
    context.insert("env", &ctx.env);
    context.insert("feature", &ctx.feature);
    context.insert("instance", &ctx.instance);
    context.insert("set", &ctx.set);
    context.insert("advertise_host", &ctx.advertise_host);
    context.insert("dubbo_tag", &ctx.dubbo_tag);
    if let Some(service) = service {
        context.insert("service", service);
    }
    for (key, value) in extra {
        context.insert(key.clone(), value);
    }
    // Every `{{ }}` output passes the escape function, which stands a token in for each
    // `--set` value that could change the YAML's structure (see `free_text_values`).
    tera.set_escape_fn(hide_set_values);
    FREE_TEXT.with(|cell| *cell.borrow_mut() = free_text_values(&ctx.set));
    let mut output = budget::LimitedWriter::new(progress);
    let rendered = tera.render_str_to(source, &context, true, &mut output);
    FREE_TEXT.with(|cell| cell.borrow_mut().clear());
    rendered.map_err(|e| Some(failure_from(e)))?;
    String::from_utf8(output.buffer).map_err(|e| {
        Some(RenderFailure {
            message: format!("the rendered text is not UTF-8: {e}"),
            position: None,
        })
    })
}

thread_local! {
    /// The `--set` values being hidden by the render running on this thread, with their tokens.
    static FREE_TEXT: RefCell<Vec<(String, String)>> = const { RefCell::new(Vec::new()) };
}

/// A `--set` value is one scalar, whatever it contains. Values of only letters, digits and
/// `-_./+=~@` are written as they are (so `ports: [{{ set.port }}]` stays a number); any other
/// value is written as a token of letters and digits, valid in every YAML position, which
/// `restore_set_values` turns back into the value after parsing. Tera logic sees the values
/// themselves. Longest first, so a value inside another is not cut apart.
fn free_text_values(set: &BTreeMap<String, String>) -> Vec<(String, String)> {
    let mut values: Vec<(String, String)> = set
        .values()
        .enumerate()
        .filter(|(_, v)| !v.is_empty() && !is_plain(v))
        .map(|(i, v)| (v.clone(), set_token(i)))
        .collect();
    values.sort_by_key(|(v, _)| std::cmp::Reverse(v.len()));
    values
}

fn is_plain(value: &str) -> bool {
    value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_./+=~@".contains(c))
}

/// The token for the `index`-th `--set` value (in key order): unguessable per process, so a
/// definition cannot forge one, and delimited, so token 1 is not a prefix of token 10.
fn set_token(index: usize) -> String {
    use std::hash::{BuildHasher, Hasher};
    static NONCE: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    let nonce = NONCE.get_or_init(|| {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u32(std::process::id());
        h.finish()
    });
    format!("envctlset{nonce:016x}x{index}x")
}

fn hide_set_values(input: &str, output: &mut dyn std::io::Write) -> std::io::Result<()> {
    FREE_TEXT.with(|cell| {
        let values = cell.borrow();
        if values.iter().all(|(v, _)| !input.contains(v.as_str())) {
            return output.write_all(input.as_bytes());
        }
        let mut text = input.to_string();
        for (value, token) in values.iter() {
            text = text.replace(value.as_str(), token);
        }
        output.write_all(text.as_bytes())
    })
}

/// `text` with every `--set` token replaced by its value.
pub fn restore_set_text(text: &str, set: &BTreeMap<String, String>) -> String {
    let mut out = text.to_string();
    if !out.contains("envctlset") {
        return out;
    }
    for (value, token) in free_text_values(set) {
        out = out.replace(&token, &value);
    }
    out
}

/// Puts the `--set` values back into every string (and key) of a parsed document.
pub fn restore_set_values(value: &mut serde_yaml::Value, set: &BTreeMap<String, String>) {
    use serde_yaml::Value as Yaml;
    match value {
        Yaml::String(s) if s.contains("envctlset") => *s = restore_set_text(s, set),
        Yaml::Sequence(items) => items
            .iter_mut()
            .for_each(|item| restore_set_values(item, set)),
        Yaml::Mapping(map) => {
            let entries = std::mem::take(map);
            for (mut key, mut item) in entries {
                restore_set_values(&mut key, set);
                restore_set_values(&mut item, set);
                map.insert(key, item);
            }
        }
        Yaml::Tagged(tagged) => restore_set_values(&mut tagged.value, set),
        _ => {}
    }
}

fn failure_from(err: tera::Error) -> RenderFailure {
    match err.kind() {
        ErrorKind::SyntaxError(report) | ErrorKind::RenderingError(report) => {
            let span = report.span();
            RenderFailure {
                message: first_line(report.message()),
                position: Some((span.start_line.max(1), span.start_col + 1)),
            }
        }
        _ => {
            // Reports about unknown filters/functions come pre-rendered; recover the position.
            let text = err.to_string();
            RenderFailure {
                message: text
                    .lines()
                    .next()
                    .unwrap_or("")
                    .trim_start_matches("error: ")
                    .to_string(),
                position: position_in_report(&text),
            }
        }
    }
}

fn first_line(message: &str) -> String {
    message.lines().next().unwrap_or("").to_string()
}

/// Parses ` --> name:LINE:COL` out of a Tera report.
fn position_in_report(text: &str) -> Option<(usize, usize)> {
    let arrow = text
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("--> "))?;
    let mut parts = arrow.rsplitn(3, ':');
    let col = parts.next()?.trim().parse().ok()?;
    let line = parts.next()?.trim().parse().ok()?;
    Some((line, col))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> RenderContext {
        RenderContext {
            env: "shop".into(),
            feature: "pay-v2".into(),
            instance: "shop--pay-v2".into(),
            set: BTreeMap::from([("tag".to_string(), "v9".to_string())]),
            advertise_host: "10.0.0.5".into(),
            dubbo_tag: String::new(),
            deadline: None,
        }
    }

    fn none() -> BTreeMap<String, serde_json::Value> {
        BTreeMap::new()
    }

    /// The sandbox: no Tera function, filter or tag reads the host's environment or files
    /// (Tera 2 ships none; tera 1's `get_env` and file loading are not there). Only
    /// `from_env`/`from_file` env values reach the host, on purpose, at plan time.
    #[test]
    fn templates_cannot_read_the_host() {
        std::env::set_var("ENVCTL_SANDBOX_PROBE", "host-secret-probe");
        let attempts = [
            r#"{{ get_env(name="ENVCTL_SANDBOX_PROBE") }}"#,
            r#"{{ get_env(name="HOME", default="x") }}"#,
            r#"{{ env("ENVCTL_SANDBOX_PROBE") }}"#,
            r#"{{ read_file(path="/etc/hostname") }}"#,
            r#"{{ load_data(path="/etc/hostname") }}"#,
            r#"{% include "/etc/hostname" %}"#,
            r#"{% include "../../../../etc/hostname" %}"#,
            r#"{% extends "/etc/hostname" %}"#,
            r#"{% import "/etc/hostname" as m %}"#,
            r#"{{ "/etc/hostname" | read_file }}"#,
            r#"{{ now() }}"#,
        ];
        let hostname = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
        for attempt in attempts {
            match render(attempt, &ctx(), &none(), None) {
                Err(_) => {}
                Ok(text) => {
                    assert!(!text.contains("host-secret-probe"), "{attempt} -> {text}");
                    assert!(
                        hostname.trim().is_empty() || !text.contains(hostname.trim()),
                        "{attempt} read a file: {text}"
                    );
                    panic!("{attempt} rendered: {text}");
                }
            }
        }
        // The context holds only what the contract lists; `env` is the environment name.
        assert_eq!(render("{{ env }}", &ctx(), &none(), None).unwrap(), "shop");
    }

    #[test]
    fn renders_the_context() {
        let out = render(
            "{{ env }} {{ feature }} {{ instance }} {{ set.tag }} {{ advertise_host }}",
            &ctx(),
            &none(),
            None,
        )
        .unwrap();
        assert_eq!(out, "shop pay-v2 shop--pay-v2 v9 10.0.0.5");
    }

    #[test]
    fn defaults_come_from_the_file() {
        let src = "{% set tag = set.tag | default(value=\"latest\") %}{% set other = set.other | default(value=\"x\") %}{{ tag }} {{ other }}";
        assert_eq!(render(src, &ctx(), &none(), None).unwrap(), "v9 x");
    }

    #[test]
    fn undefined_variables_are_errors_with_a_position() {
        let err = render("a: 1\nb: {{ nope }}\n", &ctx(), &none(), None).unwrap_err();
        assert!(err.message.contains("nope"), "{err:?}");
        assert_eq!(err.position, Some((2, 7)));
    }

    #[test]
    fn syntax_errors_have_a_position() {
        let err = render("a: 1\n{% for x in y %}\n", &ctx(), &none(), None).unwrap_err();
        assert!(err.position.is_some(), "{err:?}");
    }

    #[test]
    fn host_port_renders_the_placeholder_token() {
        let out = render(
            "{{ host_port(port=20880) }}",
            &ctx(),
            &none(),
            Some("order"),
        )
        .unwrap();
        assert_eq!(out, "@@envctl:host_port:order:20880@@");
        let out = render(
            "{{ host_port(service=\"db\", port=3306) }}",
            &ctx(),
            &none(),
            None,
        )
        .unwrap();
        assert_eq!(out, "@@envctl:host_port:db:3306@@");
        let err = render("{{ host_port(port=1) }}", &ctx(), &none(), None).unwrap_err();
        assert!(err.message.contains("name the service"), "{err:?}");
        assert!(render("{{ host_port(port=0) }}", &ctx(), &none(), Some("a")).is_err());
    }

    #[test]
    fn replace_and_join_behave_as_tera_s_within_the_budget() {
        let src = "{{ ['a', 'b', 1] | join(sep='-') | replace(from='a', to='x') }} {{ [1, 2] | join }} {{ 'aXa' | replace(from='X', to='') }}";
        assert_eq!(render(src, &ctx(), &none(), None).unwrap(), "x-b-1 12 aa");
        // One replace that would build gigabytes is refused before it allocates them.
        let bomb = "{% set a = range(end=1000) | join(sep='xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx') %}{{ a | replace(from='x', to=a) }}";
        let err = render(bomb, &ctx(), &none(), None).unwrap_err();
        assert!(
            err.message.contains("`replace` would build a string"),
            "{err:?}"
        );
        assert_eq!(err.position.map(|p| p.0), Some(1));
    }

    #[test]
    fn a_rendering_stuck_past_the_deadline_is_given_up() {
        let mut late = ctx();
        late.deadline = Some(Instant::now() + std::time::Duration::from_millis(100));
        let started = Instant::now();
        let err = render("a: 1\n{{ __test_sleep(ms=30000) }}", &late, &none(), None).unwrap_err();
        assert!(err.message.contains("time budget"), "{err:?}");
        // The deadline plus the grace period, not the 30 s the rendering would take.
        assert!(
            started.elapsed() < budget::GRACE + std::time::Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn params_are_variables() {
        let extra = BTreeMap::from([("port".to_string(), serde_json::json!(20880))]);
        let out = render("{{ port }} {{ service }}", &ctx(), &extra, Some("svc")).unwrap();
        assert_eq!(out, "20880 svc");
    }

    #[test]
    fn no_environment_access() {
        assert!(render("{{ get_env(name=\"HOME\") }}", &ctx(), &none(), None).is_err());
    }
}
