//! `envctl validate`: every problem in every given definition, or OK lines.

use clap::Args;

use super::RenderInputs;
use crate::definition;

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Environments (names in ./environments or paths); all of ./environments/*.yaml when none.
    pub envs: Vec<String>,
    /// Validate the copy for this feature branch.
    #[arg(long, short = 'f')]
    pub feature: Option<String>,
    #[command(flatten)]
    pub inputs: RenderInputs,
}

pub fn run(args: ValidateArgs) -> anyhow::Result<i32> {
    let envs: Vec<String> = if args.envs.is_empty() {
        definition::list_environments()
            .iter()
            .map(|p| p.display().to_string())
            .collect()
    } else {
        args.envs.clone()
    };
    if envs.is_empty() {
        anyhow::bail!("nothing to validate: no ./environments/*.yaml and no ENV given");
    }
    let opts = args.inputs.load_options(args.feature.as_deref());
    let mut failed = 0;
    for env in &envs {
        match definition::load(env, &opts) {
            Ok(loaded) => println!(
                "OK {} ({}: {} services)",
                env,
                loaded.instance,
                loaded.services.len()
            ),
            Err(err) => {
                failed += 1;
                eprintln!("{err}\n");
                eprintln!("FAILED {env}");
            }
        }
    }
    Ok(if failed == 0 { 0 } else { 1 })
}
