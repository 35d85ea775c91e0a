//! `host fork`: a new execution from another one's recorded results up to a stage, with other
//! inputs or plugins for the stages that run again.

use std::collections::BTreeMap;

use clap::Args;
use host::engine::ForkRequest;

use super::execution::{ctrl_c_watch, drive_and_report, drive_approving, parse_pairs};
use super::{Context, Failure, runtime};

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  host fork podcast-20261121-k3x9qa --from audio_synthesis --provider tts=elevenlabs-tts\n  host fork podcast-20261121-k3x9qa --from script_generation --input show=deep-dive --id tea-take-2"
)]
pub struct ForkArguments {
    /// The execution whose results are taken.
    pub source: String,
    /// The first stage to run again; every stage before it keeps the source's result.
    #[arg(long = "from", value_name = "STAGE")]
    pub from_stage: String,
    /// An input over the source's, as KEY=VALUE; repeat for several.
    #[arg(long = "input", value_name = "KEY=VALUE")]
    pub inputs: Vec<String>,
    /// Another plugin for a service, as SERVICE=PLUGIN.
    #[arg(long = "provider", value_name = "SERVICE=PLUGIN")]
    pub providers: Vec<String>,
    /// The new execution's id [default: <workflow>-<date>-<random>].
    #[arg(long)]
    pub id: Option<String>,
    /// `identical`: reuse the results of identical completed plugin calls (see `host run`).
    #[arg(long, value_name = "identical", value_parser = ["identical"])]
    pub reuse: Option<String>,
    /// Approve every approval gate as it is reached.
    #[arg(long)]
    pub auto_approve: bool,
    /// Print the outcome as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

pub fn run(context: &Context, arguments: ForkArguments) -> Result<(), Failure> {
    let request = ForkRequest {
        source: arguments.source.clone(),
        from_stage: arguments.from_stage.clone(),
        execution_id: arguments.id.clone(),
        inputs: parse_pairs(&arguments.inputs, "--input", "KEY=VALUE")?,
        providers: parse_pairs(&arguments.providers, "--provider", "SERVICE=PLUGIN")?
            .into_iter()
            .map(|(service, plugin)| (service, plugin.as_str().unwrap_or_default().to_string()))
            .collect::<BTreeMap<_, _>>(),
        reuse_identical: arguments.reuse.is_some(),
    };
    let engine = context.engine()?;
    let prepared = engine.prepare_fork(&request)?;
    runtime()?.block_on(async {
        let state = engine.start(prepared).await?;
        let id = state.execution_id.0.clone();
        if !arguments.json {
            eprintln!(
                "Forked {id} from {} at stage {}",
                arguments.source, arguments.from_stage
            );
        }
        let stop = ctrl_c_watch();
        if arguments.auto_approve {
            drive_approving(context, &engine, &id, &stop, arguments.json).await?;
        }
        drive_and_report(context, &engine, &id, &stop, arguments.json).await
    })
}
