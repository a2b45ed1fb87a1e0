//! `envctl ui`: serve the live web page (`crate::ui`) until interrupted.

use std::net::SocketAddr;

use anyhow::Context;
use clap::Args;

use crate::errors::ExitCode;

use super::{common, OutputFormat};

/// Where the page listens unless told otherwise: loopback only.
const DEFAULT_LISTEN: &str = "127.0.0.1:7420";

#[derive(Debug, Args)]
pub struct UiArgs {
    /// Address to serve on. Anything but loopback lets others on the network read every
    /// instance with the token (and act with it); port 0 picks a free port.
    #[arg(long, value_name = "ADDR:PORT", default_value = DEFAULT_LISTEN)]
    pub listen: SocketAddr,
    /// The token the page and scripts must send (at least 16 of [A-Za-z0-9_-]); default: a
    /// new random one, printed in the URL.
    #[arg(long, env = "ENVCTL_UI_TOKEN", value_parser = parse_token, hide_env_values = true)]
    pub token: Option<String>,
    /// Open the page in the desktop's browser (xdg-open).
    #[arg(long)]
    pub open: bool,
    /// Inputs for the definitions the page plans and brings up (./environments).
    #[command(flatten)]
    pub render: super::RenderInputs,
    /// `json` prints one line `{"url", "listen", "token"}` once listening, for scripts.
    #[arg(long, value_enum, default_value_t)]
    pub output: OutputFormat,
}

#[derive(Debug, thiserror::Error)]
#[error("--token must be at least 16 characters of A-Z, a-z, 0-9, `_` and `-`")]
pub struct BadToken;

fn parse_token(text: &str) -> Result<String, BadToken> {
    let ok = text.len() >= 16
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    ok.then(|| text.to_string()).ok_or(BadToken)
}

pub async fn run(args: UiArgs) -> anyhow::Result<ExitCode> {
    common::check_advertise_host(args.render.advertise_host.as_deref())?;
    // Checked now, not on the first page load.
    common::plan_inputs()?;
    let token = match args.token.clone() {
        Some(token) => token,
        None => crate::ui::generate_token()?,
    };
    let backend = common::connect(args.render.advertise_host.as_deref()).await?;
    let config = crate::ui::UiConfig {
        listen: args.listen,
        token: token.clone(),
        set: args.render.set.iter().cloned().collect(),
    };
    let json = args.output == OutputFormat::Json;
    let open = args.open;
    let on_ready = move |bound: SocketAddr| {
        let url = crate::ui::page_url(bound, &token);
        if json {
            let line =
                serde_json::json!({ "url": url, "listen": bound.to_string(), "token": token });
            crate::outln!("{line}");
        } else {
            crate::outln!("envctl ui: {url}");
            crate::errln!("(the token in the URL lets the page act; Ctrl-C stops the server)");
        }
        if !bound.ip().is_loopback() {
            crate::errln!(
                "warning: listening on {bound}: anyone who can reach it and has the token can \
                 read and change every instance on this engine"
            );
        }
        if open {
            open_browser(&url);
        }
    };
    // The first Ctrl-C (or SIGTERM) stops serving and running `up`s; a second exits at once.
    let interrupt = super::interrupt::listen(json);
    crate::ui::serve(backend, config, interrupt, on_ready)
        .await
        .context("envctl ui")?;
    Ok(ExitCode::Ok)
}

/// Best effort: the URL is printed either way.
fn open_browser(url: &str) {
    let started = std::process::Command::new("xdg-open")
        .arg(url)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    if let Err(err) = started {
        crate::errln!("cannot open a browser (xdg-open: {err}); open the URL above");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_and_plain() {
        assert!(parse_token("0123456789abcdef").is_ok());
        assert!(parse_token("short").is_err());
        assert!(parse_token("0123456789abcdef<script>").is_err());
    }
}
