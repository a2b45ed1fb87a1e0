//! The examples that end every subcommand's long help (`envctl up --help`), as `git` and
//! `kubectl` show them: real command lines a newcomer can copy. Kept here, one table, so they
//! are read and updated together; a subcommand without an entry fails `tests/it/papercuts_cli.rs`.

use clap::{CommandFactory, FromArgMatches};

/// (subcommand path, examples). Paths are space-separated names below `envctl`.
const EXAMPLES: &[(&str, &str)] = &[
    (
        "ui",
        "  envctl ui                              # http://127.0.0.1:7420, opened with its token\n  \
         envctl ui --listen 127.0.0.1:0 --output json  # a free port; the URL as JSON\n  \
         envctl ui --listen 0.0.0.0:7420        # for the team: they need the printed URL",
    ),
    (
        "up",
        "  envctl up cache-demo                           # create it, wait until ready\n  \
         envctl up project-a --feature pay-v2 --ttl 3d  # an isolated copy for a branch\n  \
         envctl up project-a --local order-service      # run one service from your IDE\n  \
         DOCKER_HOST=tcp://test-server:2375 envctl up project-a --feature pay-v2  # on a shared server\n  \
         envctl up shop --reseed db                     # run db's init: (seed) steps again\n  \
         envctl up shop -f pay-v2 --from-snapshot golden # start from a snapshot's data",
    ),
    (
        "down",
        "  envctl down cache-demo\n  \
         envctl down project-a --feature pay-v2 --volumes  # its data too\n  \
         envctl down project-a --all-features\n  \
         envctl down project-a --feature pr-7 --force     # someone else's (ls shows owners)",
    ),
    (
        "plan",
        "  envctl plan cache-demo                 # exit 2 when changes are pending\n  \
         envctl plan project-a --set tag=1.4.2 --output json",
    ),
    (
        "render",
        "  envctl render cache-demo\n  \
         envctl render project-a --feature pay-v2 --set tag=1.4.2\n  \
         envctl render environments/project-a.yaml --output text  # after Tera, before YAML\n  \
         envctl render project-a --feature pay-v2 --target kubernetes | kubectl apply -f -",
    ),
    (
        "validate",
        "  envctl validate                        # every ./environments/*.yaml\n  \
         envctl validate project-a --output json",
    ),
    (
        "status",
        "  envctl status cache-demo\n  \
         envctl status project-a --feature pay-v2 --output json",
    ),
    (
        "ls",
        "  envctl ls\n  \
         envctl ls --output json\n  \
         envctl ls --mine                              # only the instances you made\n  \
         envctl --engine tcp://test-server:2375 ls     # or a docker context name",
    ),
    (
        "ports",
        "  envctl ports cache-demo\n  \
         envctl ports project-a --feature pay-v2 --output dotenv > .env",
    ),
    (
        "logs",
        "  envctl logs cache-demo\n  \
         envctl logs project-a gateway --follow --tail 50\n  \
         envctl logs project-a --feature pay-v2 mysql",
    ),
    (
        "endpoints",
        "  envctl endpoints project-a\n  \
         envctl endpoints project-a --feature pay-v2 --output json\n  \
         envctl endpoints project-a --registry 'zookeeper://zk1:2181?backup=zk2:2181&group=shop'\n  \
         envctl endpoints project-a --watch --output json",
    ),
    (
        "gc",
        "  envctl gc --dry-run                    # what has expired\n  \
         envctl gc --volumes",
    ),
    (
        "exec",
        "  envctl exec cache-demo redis -- redis-cli PING\n  \
         envctl exec project-a --feature pay-v2 mysql -- mysql -e 'SHOW DATABASES'",
    ),
    (
        "template",
        "  envctl template list\n  \
         envctl template show redis",
    ),
    (
        "template list",
        "  envctl template list\n  \
         envctl template list --env project-a   # with its libraries' templates",
    ),
    (
        "template show",
        "  envctl template show redis\n  \
         envctl template show mylib/kafka --env project-a",
    ),
    (
        "snapshot",
        "  envctl snapshot save shop golden\n  \
         envctl snapshot ls\n  \
         envctl snapshot rm golden",
    ),
    (
        "snapshot save",
        "  envctl snapshot save shop golden              # stops shop's services, copies, restarts\n  \
         envctl snapshot save shop -f pay-v2 pr-7 --hot  # while they run\n  \
         envctl up shop -f pay-v3 --from-snapshot golden  # a feature starting from that data",
    ),
    (
        "snapshot ls",
        "  envctl snapshot ls\n  \
         envctl snapshot ls --output json",
    ),
    (
        "snapshot rm",
        "  envctl snapshot rm golden                     # down and gc never remove snapshots\n  \
         envctl snapshot rm golden --output json",
    ),
    (
        "template update",
        "  envctl template update                 # every environment's libraries\n  \
         envctl template update project-a",
    ),
    (
        "schema",
        "  envctl schema > envctl.schema.json\n  \
         envctl schema --template > envctl-template.schema.json",
    ),
    (
        "init",
        "  envctl init                            # here\n  \
         envctl init ../shop && cd ../shop && envctl up example",
    ),
    (
        "import",
        "  envctl import docker-compose.yml --check        # what would be lost\n  \
         envctl import docker-compose.yml docker-compose.prod.yml --name shop\n  \
         envctl import compose.yaml --use-templates --image-map redis=envctl/redis:7",
    ),
    (
        "completions",
        "  envctl completions bash > ~/.local/share/bash-completion/completions/envctl\n  \
         envctl completions zsh > \"${fpath[1]}/_envctl\"\n  \
         envctl completions fish > ~/.config/fish/completions/envctl.fish",
    ),
];

/// The examples of one subcommand path (`"template show"`).
pub fn examples(path: &str) -> Option<&'static str> {
    EXAMPLES.iter().find(|(p, _)| *p == path).map(|(_, e)| *e)
}

/// The full command tree with every subcommand's examples attached to its long help.
pub fn command() -> clap::Command {
    with_examples(super::Cli::command(), "")
}

fn with_examples(mut cmd: clap::Command, path: &str) -> clap::Command {
    let names: Vec<String> = cmd
        .get_subcommands()
        .map(|c| c.get_name().to_string())
        .collect();
    for name in names {
        let sub_path = if path.is_empty() {
            name.clone()
        } else {
            format!("{path} {name}")
        };
        cmd = cmd.mut_subcommand(&name, |sub| {
            let sub = with_examples(sub, &sub_path);
            match examples(&sub_path) {
                Some(text) => sub.after_long_help(format!("Examples:\n{text}")),
                None => sub,
            }
        });
    }
    cmd
}

/// Parses the process's arguments against `command()` (exits on a usage error, as clap does).
pub fn parse() -> super::Cli {
    let matches = command().get_matches();
    super::Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_example_names_a_real_subcommand() {
        let cmd = super::command();
        for (path, _) in super::EXAMPLES {
            let mut c = &cmd;
            for name in path.split(' ') {
                c = c
                    .find_subcommand(name)
                    .unwrap_or_else(|| panic!("examples for `{path}`: no such subcommand"));
            }
        }
    }
}
