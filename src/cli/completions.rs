//! `envctl completions SHELL`: a completion script, and `envctl __complete -- WORDS...`, the
//! hidden helper those scripts call for what changes at run time.
//!
//! clap_complete writes the static part (subcommands, flags, value enums). Environment names
//! (./environments), feature names (running instances of that environment) and service names
//! (the environment's definition) are looked up when Tab is pressed: each script first asks
//! `envctl __complete` about the words typed so far; it prints candidates and exits 0 when the
//! word is one of those, exits 1 otherwise, and the script falls back to clap's completion.

use clap::{Args, ValueEnum};

use crate::errors::ExitCode;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
    Powershell,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to write the script for.
    #[arg(value_enum)]
    pub shell: Shell,
}

#[derive(Debug, Args)]
pub struct CompleteArgs {
    /// The command line so far, `envctl` first, the word being completed last (maybe empty).
    #[arg(last = true)]
    pub words: Vec<String>,
}

pub fn run(args: CompletionsArgs) -> anyhow::Result<ExitCode> {
    let mut cmd = super::help::command();
    let shell = match args.shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
        Shell::Powershell => clap_complete::Shell::PowerShell,
    };
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, "envctl", &mut script);
    let script = String::from_utf8(script)?;
    let script = match args.shell {
        Shell::Bash => format!("{script}{BASH}"),
        Shell::Zsh => zsh(&script),
        Shell::Fish => format!("{script}{FISH}"),
        Shell::Powershell => powershell(&script),
    };
    crate::out!("{script}");
    Ok(ExitCode::Ok)
}

const BASH: &str = r#"
# envctl: environment, feature and service names are looked up when Tab is pressed.
_envctl_dynamic() {
    local cur="${COMP_WORDS[COMP_CWORD]}" out
    if out=$(envctl __complete -- "${COMP_WORDS[@]:0:COMP_CWORD+1}" 2>/dev/null); then
        COMPREPLY=($(compgen -W "$out" -- "$cur"))
        return 0
    fi
    _envctl "$@"
}
complete -F _envctl_dynamic -o bashdefault -o default envctl
"#;

const FISH: &str = r#"
# envctl: environment, feature and service names are looked up when Tab is pressed.
function __envctl_dynamic
    envctl __complete -- (commandline -opc) (commandline -ct) 2>/dev/null
end
function __envctl_dynamic_applies
    envctl __complete -- (commandline -opc) (commandline -ct) >/dev/null 2>&1
end
complete -c envctl -f -n __envctl_dynamic_applies -a '(__envctl_dynamic)'
"#;

/// clap's `_envctl` becomes `_envctl_static`; `_envctl` asks `envctl __complete` first. The
/// autoload dispatch at the end of clap's script then reaches the dynamic function.
fn zsh(script: &str) -> String {
    let script = script.replacen("\n_envctl() {", "\n_envctl_static() {", 1);
    let dynamic = r#"
_envctl() {
    local out
    out="$(envctl __complete -- "${(@)words[1,CURRENT]}" 2>/dev/null)"
    if (( $? == 0 )); then
        local -a candidates
        candidates=(${(f)out})
        compadd -a candidates
        return 0
    fi
    _envctl_static "$@"
}
"#;
    match script.rfind("\nif [ \"$funcstack[1]\" = \"_envctl\" ]; then") {
        Some(at) => format!("{}{dynamic}{}", &script[..at], &script[at..]),
        None => format!("{script}{dynamic}"),
    }
}

/// Inserted at the top of clap's completer: the dynamic answer wins when there is one.
fn powershell(script: &str) -> String {
    let dynamic = r#"
    $envctlWords = @($commandAst.CommandElements |
        Where-Object { $_.Extent.EndOffset -le $cursorPosition } |
        ForEach-Object { $_.ToString() })
    if ($wordToComplete -eq '') { $envctlWords += '' }
    $envctlDynamic = & envctl __complete -- @envctlWords 2>$null
    if ($LASTEXITCODE -eq 0) {
        $envctlDynamic | Where-Object { $_ -like "$wordToComplete*" } | ForEach-Object {
            [CompletionResult]::new($_, $_, [CompletionResultType]::ParameterValue, $_)
        }
        return
    }
"#;
    let anchor = "param($wordToComplete, $commandAst, $cursorPosition)\n";
    match script.find(anchor) {
        Some(at) => {
            let end = at + anchor.len();
            format!("{}{dynamic}{}", &script[..end], &script[end..])
        }
        None => script.to_string(),
    }
}

pub async fn complete(args: CompleteArgs) -> anyhow::Result<ExitCode> {
    let Some(want) = super::complete_words::classify(&super::help::command(), &args.words) else {
        return Ok(ExitCode::Failed);
    };
    let list = matches!(want, super::complete_words::Want::ServiceList(_));
    let mut words = super::complete_words::candidates(want).await;
    if list {
        let current = args.words.last().map(String::as_str).unwrap_or_default();
        words = super::complete_words::list_words(current, words);
    }
    for word in words {
        crate::outln!("{word}");
    }
    Ok(ExitCode::Ok)
}
