//! A newcomer's first hour (issue 17): shell completions that complete real names, long help
//! that ends with examples, and environment variables that are either usable or refused by
//! name before anything is created. The refusals are checked against the real engine: the
//! instance must not exist afterwards.

use crate::support;
use support::Instance;

use std::path::PathBuf;
use std::process::{Command, Output};

use support::{assert_ok, docker_stdout, text, BUSYBOX};

fn envctl_bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("envctl")
}

/// An environment with one busybox service `web` and one `worker`, run with none of the
/// variables these tests set (each test sets its own).
fn newcomer(prefix: &str) -> Instance {
    let service = format!("    image: {BUSYBOX}\n    command: [\"sleep\", \"3600\"]\n");
    let definition = format!("services:\n  web:\n{service}  worker:\n{service}");
    Instance::new(prefix, &definition)
        .without_var("ENVCTL_ADVERTISE_HOST")
        .without_var("ENVCTL_PORT_RANGE")
        .without_var("ENVCTL_TEMPLATE_PATH")
        .without_var("ENVCTL_CACHE_DIR")
}

/// Containers of the environment (any feature), by label.
fn containers(fx: &Instance) -> Vec<String> {
    let out = docker_stdout(&[
        "ps",
        "-a",
        "--filter",
        &format!("label=io.envctl.env={}", fx.env),
        "--format",
        "{{.Names}}",
    ])
    .expect("docker ps");
    out.lines().map(str::to_string).collect()
}

/// Runs `bash -c script` in the environment's directory with envctl first on PATH.
fn bash(fx: &Instance, script: &str) -> Output {
    let bin_dir = envctl_bin().parent().unwrap().to_path_buf();
    let path = std::env::join_paths(
        std::iter::once(bin_dir).chain(std::env::split_paths(&std::env::var_os("PATH").unwrap())),
    )
    .unwrap();
    Command::new("bash")
        .arg("-c")
        .arg(script)
        .current_dir(fx.dir.path())
        .env("PATH", path)
        .env("ENVCTL_LOCK_DIR", fx.dir.path().join("locks"))
        .output()
        .expect("bash runs")
}

// --- completions ---------------------------------------------------------------------------

/// Completes the last word of `words` with the bash script loaded the way a user loads it.
fn bash_complete(fx: &Instance, words: &[&str]) -> Vec<String> {
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let script = format!(
        "set -e\nsource <(envctl completions bash)\n\
         complete -p envctl\n\
         COMP_WORDS=({words})\nCOMP_CWORD={cword}\nCOMP_LINE=\"${{COMP_WORDS[*]}}\"\n\
         COMP_POINT=${{#COMP_LINE}}\n\
         \"$(complete -p envctl | sed -E 's/.*-F ([^ ]+) .*/\\1/')\" envctl \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"\n\
         printf 'reply:%s\\n' \"${{COMPREPLY[@]}}\"",
        words = quoted.join(" "),
        cword = words.len() - 1,
    );
    let out = bash(fx, &script);
    assert_ok(&out);
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("-F _envctl_dynamic") && stdout.contains(" envctl"),
        "the script registers its dynamic completion for envctl: {stdout}"
    );
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix("reply:"))
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

#[test]
fn bash_completion_completes_environment_names() {
    let fx = newcomer("compl");
    let prefix = &fx.env[..fx.env.len() - 3];
    let reply = bash_complete(&fx, &["envctl", "up", prefix]);
    assert_eq!(reply, vec![fx.env.clone()]);
    // Other words are clap's: subcommands still complete.
    let reply = bash_complete(&fx, &["envctl", "completi"]);
    assert_eq!(reply, vec!["completions".to_string()]);
}

#[test]
fn bash_completion_completes_service_names() {
    let fx = newcomer("compl");
    let reply = bash_complete(&fx, &["envctl", "logs", &fx.env, ""]);
    assert_eq!(reply, vec!["web".to_string(), "worker".to_string()]);
    let reply = bash_complete(&fx, &["envctl", "exec", &fx.env, "wo"]);
    assert_eq!(reply, vec!["worker".to_string()]);
}

#[test]
fn bash_completion_completes_feature_names_of_running_instances() {
    let fx = newcomer("compl");
    let feature = "tabbed";
    let out = fx
        .command(&["up", &fx.env, "--feature", feature, "--no-wait"])
        .output()
        .unwrap();
    assert_ok(&out);
    let reply = bash_complete(&fx, &["envctl", "down", &fx.env, "--feature", ""]);
    assert_eq!(reply, vec![feature.to_string()]);
}

#[test]
fn every_shell_gets_a_script() {
    let fx = newcomer("compl");
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let out = fx.command(&["completions", shell]).output().unwrap();
        assert_ok(&out);
        let script = text(&out.stdout);
        assert!(
            script.contains("envctl __complete --"),
            "{shell} script asks envctl for names: {script}"
        );
    }
}

// --- help ----------------------------------------------------------------------------------

fn subcommand_paths(cmd: &clap::Command, prefix: &[String], out: &mut Vec<Vec<String>>) {
    for sub in cmd.get_subcommands() {
        if sub.is_hide_set() || sub.get_name() == "help" {
            continue;
        }
        let mut path = prefix.to_vec();
        path.push(sub.get_name().to_string());
        out.push(path.clone());
        subcommand_paths(sub, &path, out);
    }
}

#[test]
fn every_subcommand_help_ends_with_examples() {
    let mut paths = Vec::new();
    subcommand_paths(&envctl::cli::command(), &[], &mut paths);
    assert!(paths.len() > 15, "{paths:?}");
    for path in paths {
        let out = Command::new(envctl_bin())
            .args(&path)
            .arg("--help")
            .output()
            .unwrap();
        assert_ok(&out);
        let help = text(&out.stdout);
        let examples = help.rfind("\nExamples:\n");
        let options = help.rfind("\nOptions:\n");
        assert!(
            examples.is_some() && examples > options,
            "`envctl {} --help` ends with examples:\n{help}",
            path.join(" ")
        );
        let after = &help[examples.unwrap()..];
        let lines = after
            .lines()
            .filter(|l| l.trim_start().starts_with("envctl "));
        assert!(lines.count() >= 2, "two examples or more: {after}");
    }
}

// --- environment variables -----------------------------------------------------------------

/// `envctl up` with `var=value` fails with one line naming `var`, and creates nothing.
fn refused(fx: &Instance, var: &str, value: &str, expect: &str) {
    let out = fx
        .command(&["up", &fx.env, "--no-wait"])
        .env(var, value)
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{var}={value:?}: {stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{var}={value:?}: one line: {stderr}");
    assert!(
        lines[0].contains(var) && lines[0].contains(expect),
        "{var}={value:?}: names it and says `{expect}`: {stderr}"
    );
    assert_eq!(containers(fx), Vec::<String>::new(), "{var}={value:?}");
}

#[test]
fn empty_or_malformed_variables_are_refused_by_name_before_anything_is_created() {
    let fx = newcomer("envvar");
    let file = fx
        .dir
        .path()
        .join("environments")
        .join(format!("{}.yaml", fx.env));
    let file = file.to_str().unwrap();
    refused(&fx, "ENVCTL_PORT_RANGE", "", "empty");
    refused(&fx, "ENVCTL_PORT_RANGE", "40000", "FIRST-LAST");
    refused(&fx, "ENVCTL_PORT_RANGE", "5-1", "FIRST-LAST");
    refused(&fx, "ENVCTL_LOCK_DIR", "", "empty");
    refused(&fx, "ENVCTL_LOCK_DIR", "locks", "absolute");
    refused(&fx, "ENVCTL_LOCK_DIR", file, "not a directory");
    refused(&fx, "ENVCTL_CACHE_DIR", " ", "empty");
    refused(&fx, "ENVCTL_CACHE_DIR", "cache", "absolute");
    refused(&fx, "ENVCTL_TEMPLATE_PATH", file, "not a directory");
    refused(&fx, "XDG_RUNTIME_DIR", "run", "absolute");
    refused(&fx, "DOCKER_HOST", "", "empty");
    refused(&fx, "DOCKER_HOST", "localhost:2375", "tcp://");
    refused(&fx, "ENVCTL_NODE_PORT_RANGE", "", "empty");
    refused(&fx, "ENVCTL_NODE_PORT_RANGE", "30000", "FIRST-LAST");
    refused(&fx, "ENVCTL_REGISTRY", " ", "empty");
}

#[test]
fn empty_advertise_host_is_refused_by_name() {
    let fx = newcomer("envvar");
    for args in [vec!["up", &fx.env], vec!["render", &fx.env]] {
        let out = fx
            .command(&args)
            .env("ENVCTL_ADVERTISE_HOST", "")
            .output()
            .unwrap();
        let stderr = text(&out.stderr);
        assert!(!out.status.success(), "{args:?}: {stderr}");
        let first = stderr.lines().next().unwrap_or_default();
        assert!(
            first.contains("ENVCTL_ADVERTISE_HOST") && first.contains("empty"),
            "{args:?}: {stderr}"
        );
    }
    assert_eq!(containers(&fx), Vec::<String>::new());
}

#[test]
fn advertise_host_that_is_not_this_machine_is_refused_before_up_creates_anything() {
    let fx = newcomer("envvar");
    // TEST-NET-2 (RFC 5737): assigned to no machine.
    let foreign = "198.51.100.7";
    let by_flag = fx
        .command(&["up", &fx.env, "--advertise-host", foreign])
        .output()
        .unwrap();
    let by_env = fx
        .command(&["up", &fx.env])
        .env("ENVCTL_ADVERTISE_HOST", foreign)
        .output()
        .unwrap();
    for out in [by_flag, by_env] {
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains(foreign) && stderr.contains("not an address of this machine"),
            "{stderr}"
        );
    }
    assert_eq!(containers(&fx), Vec::<String>::new());
    // An address of this machine is accepted.
    let out = fx
        .command(&["up", &fx.env, "--no-wait", "--advertise-host", "127.0.0.1"])
        .output()
        .unwrap();
    assert_ok(&out);
    assert_eq!(containers(&fx).len(), 2);
}

#[test]
fn an_empty_template_path_is_an_empty_list() {
    // As an empty PATH is: the one variable where empty is a meaningful value.
    let fx = newcomer("envvar");
    let out = fx
        .command(&["render", &fx.env])
        .env("ENVCTL_TEMPLATE_PATH", "")
        .output()
        .unwrap();
    assert_ok(&out);
    assert!(
        text(&out.stdout).contains("worker"),
        "{}",
        text(&out.stdout)
    );
}
