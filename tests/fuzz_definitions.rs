//! Fuzzing definitions and templates with proptest: random YAML-ish text and random mutations
//! of the shipped environments and templates. Loading must never panic, and must give either
//! an environment or diagnostics that name a file. Inputs that once found a bug are kept in
//! tests/fuzz_regressions/ (`*.yaml` environments; `NAME[.x].template.yaml` templates, loaded with
//! the shipped project-a) and replayed first. The seed is printed (replay with
//! ENVCTL_FUZZ_SEED) and a minimal failing input is written there as `*failed-<seed>*`.
//!
//! Everything runs in one test: the template search path starts at `./templates`, so the test
//! works in a temp directory (the process's current directory) of its own.

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestError, TestRunner};

use envctl::definition::{self, LoadOptions};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Pieces of the format and of Tera, so random text often gets deep into the loader.
const TOKENS: &[&str] = &[
    "services:",
    "\n",
    "\n  ",
    "\n    ",
    "\n      ",
    "a:",
    "b:",
    "image:",
    " envctl/busybox:1.35",
    "ports:",
    " [80]",
    " [\"8080:80\"]",
    "env:",
    " { A: 1 }",
    "{ from_env: X }",
    "{ from_file: ./f }",
    "template:",
    " redis",
    " zookeeper",
    " ../x",
    " /etc/passwd",
    "with:",
    " { version: 3 }",
    "depends_on:",
    " [a]",
    " { a: healthy }",
    " { b: completed }",
    "healthcheck:",
    " { tcp: 1 }",
    " { cmd: [true] }",
    " { http: { port: 1, path: / } }",
    " { dubbo: { interface: x } }",
    "interval: 1s",
    "retries: -1",
    "kind: job",
    "volumes:",
    " [\"./c:/c\"]",
    " [\"/:/h\"]",
    " [\"d:/d:rw\"]",
    "resources:",
    " { memory: 1g, cpus: 0.5 }",
    "restart: always",
    "command:",
    " [\"sh\"]",
    "aliases:",
    " [w]",
    "ttl: 3d",
    "ttl: x",
    "name: z",
    "extends: ./base.yaml",
    "allow:",
    " [privileged]",
    "privileged: true",
    "network_mode: host",
    "pid: host",
    "{{",
    "}}",
    "{%",
    "%}",
    "{{ env }}",
    "{{ host_port(port=80) }}",
    "{{ host_port(service=\"a\", port=1) }}",
    "{% if feature %}",
    "{% endif %}",
    "{% for x in [1,2] %}",
    "{% endfor %}",
    "{% set t = 1 %}",
    "{{ set.tag | default(value=\"x\") }}",
    "{{ nope }}",
    "{# c #}",
    "&a",
    "*a",
    "<<: *a",
    "!!binary",
    "- ",
    ":",
    "\"",
    "'",
    "|",
    ">",
    "#",
    ",",
    "[",
    "]",
    "{",
    "}",
    "~",
    "null",
    "0x1F",
    "1e400",
    "\t",
    "é",
    "\u{0}",
    "\u{feff}",
];

fn yamlish() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(TOKENS), 0..60).prop_map(|t| t.concat())
}

fn random_text() -> impl Strategy<Value = String> {
    "[ -~\n\té]{0,300}"
}

/// One edit of a text: delete, duplicate or insert at char positions (scaled to the length).
#[derive(Debug, Clone)]
enum Mutation {
    Delete(f64, usize),
    Duplicate(f64, usize),
    Insert(f64, &'static str),
    SwapLines(f64, f64),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let at = 0.0..1.0f64;
    prop_oneof![
        (at.clone(), 1..40usize).prop_map(|(a, n)| Mutation::Delete(a, n)),
        (at.clone(), 1..80usize).prop_map(|(a, n)| Mutation::Duplicate(a, n)),
        (at.clone(), prop::sample::select(TOKENS)).prop_map(|(a, t)| Mutation::Insert(a, t)),
        (at.clone(), at).prop_map(|(a, b)| Mutation::SwapLines(a, b)),
    ]
}

fn mutate(text: &str, mutations: &[Mutation]) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for m in mutations {
        let pos = |f: f64, len: usize| ((f * len as f64) as usize).min(len);
        match m {
            Mutation::Delete(a, n) => {
                let start = pos(*a, chars.len());
                let end = (start + n).min(chars.len());
                chars.drain(start..end);
            }
            Mutation::Duplicate(a, n) => {
                let start = pos(*a, chars.len());
                let end = (start + n).min(chars.len());
                let copy: Vec<char> = chars[start..end].to_vec();
                chars.splice(end..end, copy);
            }
            Mutation::Insert(a, token) => {
                let at = pos(*a, chars.len());
                chars.splice(at..at, token.chars());
            }
            Mutation::SwapLines(a, b) => {
                let text: String = chars.iter().collect();
                let mut lines: Vec<&str> = text.split('\n').collect();
                let (i, j) = (pos(*a, lines.len() - 1), pos(*b, lines.len() - 1));
                lines.swap(i, j);
                chars = lines.join("\n").chars().collect();
            }
        }
    }
    chars.into_iter().collect()
}

/// A file of the shipped environments or templates, by path relative to the crate.
#[derive(Debug, Clone, PartialEq)]
enum Input {
    /// An environment file's text (templates are the shipped ones).
    Environment(String),
    /// A shipped template's name and mutated text, used by the shipped project-a.
    Template(String, String),
}

fn shipped(dir: &str) -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = std::fs::read_dir(Path::new(ROOT).join(dir))
        .unwrap()
        .filter_map(|e| {
            let path = e.ok()?.path();
            let stem = path.file_stem()?.to_string_lossy().into_owned();
            (path.extension()? == "yaml").then(|| (stem, std::fs::read_to_string(&path).unwrap()))
        })
        .collect();
    files.sort();
    files
}

fn inputs() -> impl Strategy<Value = Input> {
    let environments = shipped("environments");
    let templates = shipped("templates");
    let mutations = || prop::collection::vec(mutation(), 1..6);
    prop_oneof![
        yamlish().prop_map(Input::Environment),
        random_text().prop_map(Input::Environment),
        (prop::sample::select(environments), mutations()).prop_map(
            |((_, text), m): ((String, String), Vec<Mutation>)| {
                Input::Environment(mutate(&text, &m))
            }
        ),
        (prop::sample::select(templates), mutations()).prop_map(
            |((name, text), m): ((String, String), Vec<Mutation>)| {
                Input::Template(name, mutate(&text, &m))
            }
        ),
    ]
}

/// A scratch world: `environments/`, `templates/` (the shipped ones) and `f`, `base.yaml`.
struct World {
    dir: tempfile::TempDir,
}

impl World {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("environments")).unwrap();
        std::fs::create_dir(dir.path().join("templates")).unwrap();
        std::fs::write(dir.path().join("environments/f"), "secret\n").unwrap();
        std::fs::write(
            dir.path().join("environments/base.yaml"),
            "services:\n  a:\n    image: envctl/busybox:1.35\n",
        )
        .unwrap();
        Self { dir }
    }

    fn reset_templates(&self) {
        for (name, text) in shipped("templates") {
            std::fs::write(self.template_path(&name), text).unwrap();
        }
    }

    fn template_path(&self, name: &str) -> PathBuf {
        self.dir
            .path()
            .join("templates")
            .join(format!("{name}.yaml"))
    }

    /// Loads the input; panics (failing the case) on a panic or a nameless diagnostic.
    fn check(&self, input: &Input) -> Result<(), TestCaseError> {
        self.reset_templates();
        let env_path = self.dir.path().join("environments/fuzz.yaml");
        let env_text = match input {
            Input::Environment(text) => text.clone(),
            Input::Template(name, text) => {
                std::fs::write(self.template_path(name), text).unwrap();
                std::fs::read_to_string(Path::new(ROOT).join("environments/project-a.yaml"))
                    .unwrap()
            }
        };
        std::fs::write(&env_path, env_text).unwrap();
        let opts = LoadOptions {
            feature: Some("f1".into()),
            set: Default::default(),
            advertise_host: "127.0.0.1".into(),
            dubbo_tag: None,
        };
        match definition::load(env_path.to_str().unwrap(), &opts) {
            Ok(_) => Ok(()),
            Err(err) => {
                prop_assert!(!err.diagnostics.is_empty(), "no diagnostics: {err}");
                for d in &err.diagnostics {
                    let name = d.file.file_name().map(|n| n.to_string_lossy().into_owned());
                    prop_assert!(name.is_some(), "a diagnostic without a file: {err}");
                    prop_assert!(
                        err.rendered.contains(name.as_deref().unwrap()),
                        "the file is not named: {err}"
                    );
                }
                Ok(())
            }
        }
    }
}

#[test]
fn loading_never_panics_and_always_names_the_file() {
    let world = World::new();
    std::env::set_current_dir(world.dir.path()).unwrap();
    std::env::remove_var("ENVCTL_TEMPLATE_PATH");

    // Regressions first: every input that once found a bug.
    let regressions = Path::new(ROOT).join("tests/fuzz_regressions");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&regressions)
        .map(|d| d.filter_map(|e| Some(e.ok()?.path())).collect())
        .unwrap_or_default();
    files.sort();
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let Some(input) = regression_input(&name, text) else {
            continue;
        };
        let started = std::time::Instant::now();
        world
            .check(&input)
            .unwrap_or_else(|e| panic!("regression {name}: {e}"));
        // Some regressions were hangs: a generous bound (far above the time a healthy load
        // takes, even on a loaded machine) tells a hang from a slow run.
        let took = started.elapsed();
        assert!(
            took < std::time::Duration::from_secs(30),
            "regression {name} took {took:?}"
        );
    }

    let cases = std::env::var("ENVCTL_FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(300);
    // A seed of its own each run (or ENVCTL_FUZZ_SEED to replay one), always printed, so a
    // failure seen once can be reproduced; the minimal failing input is also kept on disk.
    let seed = std::env::var("ENVCTL_FUZZ_SEED")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| {
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
            now.unwrap().as_nanos() as u64 ^ u64::from(std::process::id())
        });
    eprintln!("fuzz seed: {seed} (replay with ENVCTL_FUZZ_SEED={seed}), {cases} cases");
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        rng_seed: RngSeed::Fixed(seed),
        ..Config::default()
    });
    let result = runner.run(&inputs(), |input| world.check(&input));
    if let Err(err) = result {
        let kept = match &err {
            TestError::Fail(_, input) => persist(&regressions, seed, input),
            TestError::Abort(_) => "nothing to keep (aborted)".to_string(),
        };
        panic!("fuzz seed {seed}: {err}\n{kept}");
    }
}

/// A kept input by its file name: `NAME[.anything].template.yaml` is the shipped template
/// NAME, any other `*.yaml` an environment; anything else (README.md) is not an input.
fn regression_input(file: &str, text: String) -> Option<Input> {
    match file.strip_suffix(".template.yaml") {
        Some(stem) => Some(Input::Template(stem.split('.').next()?.to_string(), text)),
        None if file.ends_with(".yaml") => Some(Input::Environment(text)),
        None => None,
    }
}

#[test]
fn a_failing_input_is_kept_where_the_next_run_replays_it() {
    let dir = tempfile::tempdir().unwrap();
    for input in [
        Input::Environment("services: {}".into()),
        Input::Template("redis".into(), "service: {}".into()),
    ] {
        let said = persist(dir.path(), 42, &input);
        let path = said.strip_prefix("minimal input kept in ").expect(&said);
        let file = Path::new(path).file_name().unwrap().to_string_lossy();
        let text = std::fs::read_to_string(path).unwrap();
        assert_eq!(regression_input(&file, text), Some(input));
    }
}

/// Writes a failing input into tests/fuzz_regressions/ (replayed first by the next run) and
/// says where; review it, give it a telling name and commit it with the fix.
fn persist(dir: &Path, seed: u64, input: &Input) -> String {
    let (name, text) = match input {
        Input::Environment(text) => (format!("failed-{seed}.yaml"), text),
        Input::Template(template, text) => {
            (format!("{template}.failed-{seed}.template.yaml"), text)
        }
    };
    let path = dir.join(name);
    match std::fs::write(&path, text) {
        Ok(()) => format!("minimal input kept in {}", path.display()),
        Err(e) => format!(
            "could not keep the minimal input in {}: {e}",
            path.display()
        ),
    }
}
