//! What `envctl __complete` offers for the word under the cursor: which kind of name the
//! command line asks for there (read off clap's own command tree, so it follows the flags and
//! positionals as they are declared), and the names of that kind right now.

use std::time::Duration;

use clap::{Arg, Command};

use crate::definition::{self, LoadOptions};

/// The kinds of names looked up at run time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Want {
    /// Environment names in ./environments.
    Envs,
    /// Features of the running instances of an environment.
    Features(Option<String>),
    /// Services of an environment's definition.
    Services(Option<String>),
    /// A comma-separated list of them (`--only a,b`): each offered after what is typed.
    ServiceList(Option<String>),
}

/// How long completion may wait for the engine: a Tab press must not hang.
const ENGINE_BUDGET: Duration = Duration::from_secs(2);

/// The kind of name `words` (`envctl`, ..., the word being completed) asks for last, or `None`
/// when it is not a run-time name (subcommands, flags, value enums: clap's script does those).
pub fn classify(root: &Command, words: &[String]) -> Option<Want> {
    let (current, typed) = words.split_last()?;
    let mut cmd = root;
    let mut positionals: Vec<&str> = Vec::new();
    let mut env: Option<String> = None;
    let mut pending: Option<&Arg> = None;
    for word in typed.iter().skip(1) {
        if let Some(flag) = pending.take() {
            if flag.get_id() == "env" {
                env = Some(word.clone());
            }
            continue;
        }
        if word == "--" {
            return None; // what follows is `exec`'s command, not ours
        }
        if let Some(long) = word.strip_prefix("--") {
            if !long.contains('=') {
                pending = cmd
                    .get_arguments()
                    .find(|a| a.get_long() == Some(long))
                    .filter(|a| a.get_action().takes_values());
            }
            continue;
        }
        if let Some(shorts) = word.strip_prefix('-').filter(|s| !s.is_empty()) {
            let first = shorts.chars().next()?;
            if shorts.len() == 1 {
                pending = cmd
                    .get_arguments()
                    .find(|a| a.get_short() == Some(first))
                    .filter(|a| a.get_action().takes_values());
            }
            continue;
        }
        if positionals.is_empty() {
            if let Some(sub) = cmd.find_subcommand(word) {
                cmd = sub;
                continue;
            }
        }
        if positional_id(cmd, positionals.len()).as_deref() == Some("env") {
            env = Some(word.clone());
        }
        positionals.push(word);
    }
    if let Some(flag) = pending {
        return match flag.get_id().as_str() {
            "feature" | "base" => Some(Want::Features(env)),
            "local" | "reseed" => Some(Want::Services(env)),
            "only" => Some(Want::ServiceList(env)),
            "env" => Some(Want::Envs),
            _ => None,
        };
    }
    if current.starts_with('-') || std::ptr::eq(cmd, root) || cmd.has_subcommands() {
        return None;
    }
    match positional_id(cmd, positionals.len())?.as_str() {
        "env" | "envs" => Some(Want::Envs),
        "service" => Some(Want::Services(env)),
        _ => None,
    }
}

/// The id of the `index`th positional of `cmd`; a repeatable last one takes every index after.
fn positional_id(cmd: &Command, index: usize) -> Option<String> {
    let list: Vec<&Arg> = cmd.get_positionals().filter(|a| !a.is_last_set()).collect();
    let arg = match list.get(index) {
        Some(arg) => *arg,
        None => list
            .last()
            .filter(|a| a.get_num_args().is_some_and(|n| n.max_values() > 1))?,
    };
    Some(arg.get_id().to_string())
}

/// The names of that kind now, sorted; nothing when they cannot be found (no error on a Tab).
pub async fn candidates(want: Want) -> Vec<String> {
    match want {
        Want::Envs => definition::list_environments()
            .iter()
            .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
            .collect(),
        Want::Services(env) | Want::ServiceList(env) => {
            env.map(|e| services(&e)).unwrap_or_default()
        }
        Want::Features(env) => match env {
            Some(e) => tokio::time::timeout(ENGINE_BUDGET, features(&e))
                .await
                .unwrap_or_default(),
            None => Vec::new(),
        },
    }
}

/// The words offered for `current` when it is a comma-separated list: the names not listed
/// yet, each after what is typed up to its last comma (shells match whole words).
pub fn list_words(current: &str, names: Vec<String>) -> Vec<String> {
    let Some((typed, _)) = current.rsplit_once(',') else {
        return names;
    };
    let listed: Vec<&str> = typed.split(',').collect();
    names
        .into_iter()
        .filter(|name| !listed.contains(&name.as_str()))
        .map(|name| format!("{typed},{name}"))
        .collect()
}

fn load(env: &str) -> Option<crate::model::Environment> {
    let opts = LoadOptions {
        feature: None,
        set: Default::default(),
        // Rendering only needs a value; no address is looked up for a Tab press.
        advertise_host: "127.0.0.1".into(),
        dubbo_tag: None,
    };
    definition::load(env, &opts).ok()
}

fn services(env: &str) -> Vec<String> {
    let Some(environment) = load(env) else {
        return Vec::new();
    };
    let mut names: Vec<String> = environment
        .services
        .keys()
        .chain(environment.local.keys())
        .map(|s| s.as_str().to_string())
        .collect();
    names.sort();
    names.dedup();
    names
}

async fn features(env: &str) -> Vec<String> {
    // The definition's `name:` is what the labels carry; the word typed when it does not load.
    let name = load(env)
        .map(|e| e.env)
        .unwrap_or_else(|| super::common::env_name(env));
    let Ok(backend) = super::common::connect(None).await else {
        return Vec::new();
    };
    let Ok(instances) = backend.instances().await else {
        return Vec::new();
    };
    // Instances with services, as the containers' labels named them before.
    let mut names: Vec<String> = instances
        .into_iter()
        .filter(|i| i.owner.env == name && i.services > 0)
        .filter_map(|i| i.owner.feature)
        .collect();
    names.sort();
    names.dedup();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    fn want(line: &str) -> Option<Want> {
        let mut words: Vec<String> = line.split(' ').map(str::to_string).collect();
        if line.ends_with(' ') {
            words.pop();
            words.push(String::new());
        }
        classify(&crate::cli::help::command(), &words)
    }

    #[test]
    fn names_by_position_and_flag() {
        assert_eq!(want("envctl up "), Some(Want::Envs));
        assert_eq!(want("envctl up ca"), Some(Want::Envs));
        assert_eq!(want("envctl validate a b "), Some(Want::Envs));
        assert_eq!(
            want("envctl up shop --feature "),
            Some(Want::Features(Some("shop".into())))
        );
        assert_eq!(
            want("envctl down -f x shop -f "),
            Some(Want::Features(Some("shop".into())))
        );
        assert_eq!(
            want("envctl logs shop "),
            Some(Want::Services(Some("shop".into())))
        );
        assert_eq!(
            want("envctl exec -f x shop "),
            Some(Want::Services(Some("shop".into())))
        );
        assert_eq!(
            want("envctl up shop --local "),
            Some(Want::Services(Some("shop".into())))
        );
        assert_eq!(want("envctl template list --env "), Some(Want::Envs));
        assert_eq!(
            want("envctl up shop -f x --only "),
            Some(Want::ServiceList(Some("shop".into())))
        );
        assert_eq!(
            want("envctl up shop --reseed "),
            Some(Want::Services(Some("shop".into())))
        );
        assert_eq!(
            want("envctl up shop -f x --base "),
            Some(Want::Features(Some("shop".into())))
        );
    }

    #[test]
    fn a_list_offers_the_names_not_listed_after_what_is_typed() {
        let names = || vec!["db".to_string(), "order".into(), "payment".into()];
        assert_eq!(list_words("", names()), names());
        assert_eq!(list_words("pay", names()), names());
        assert_eq!(
            list_words("payment,", names()),
            ["payment,db", "payment,order"]
        );
        assert_eq!(list_words("payment,order,o", names()), ["payment,order,db"]);
    }

    #[test]
    fn static_words_are_left_to_clap() {
        assert_eq!(want("envctl "), None);
        assert_eq!(want("envctl u"), None);
        assert_eq!(want("envctl up --"), None);
        assert_eq!(want("envctl up shop --output "), None);
        assert_eq!(want("envctl exec shop redis -- "), None);
        assert_eq!(want("envctl template "), None);
        assert_eq!(want("envctl ls "), None);
    }
}
