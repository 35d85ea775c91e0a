//! Running one attempt of an activity: turn its recorded input into a plugin request, call the
//! plugin under the stage's deadline, store large results as blobs (synced before the event
//! that references them is committed), and describe the outcome as an event.

use std::sync::Arc;
use std::time::{Duration, Instant};

use pipeline_core::answers::check_output;
use pipeline_core::event::ReusedFrom;
use pipeline_core::workflow::{GrantSpec, OutputCheck};
use pipeline_core::{ActivityError, ActivityId, BlobRef, Cost, ErrorKind, Event, PluginPin};
use serde_json::{Value, json};

use super::flow::FlowPermit;
use super::publish::PUBLISH_CALL;
use super::{Engine, EngineError};
use crate::plugin::types::{Cost as WitCost, Usage};
use crate::plugin::{
    AudioInput, CallError, LoadedPlugin, PluginHost, Service, image, llm, mixer, tts,
};

/// One attempt to run.
#[derive(Debug, Clone)]
pub(super) struct ActivityJob {
    pub activity: ActivityId,
    pub attempt: u32,
    pub idempotency_key: String,
    /// `service.function`.
    pub call: String,
    /// The recorded input, with feedback on the previous attempt's answer when it was rejected.
    pub input: Value,
    /// The stage's output checks, and the template context they are evaluated in (null when
    /// there are none).
    pub checks: Vec<OutputCheck>,
    pub check_context: Value,
    /// The pinned plugin of the service; none for the host's own functions.
    pub plugin: Option<PluginPin>,
    /// What the workflow grants that plugin on top of the host's configuration.
    pub grants: Option<GrantSpec>,
    /// Start-to-close deadline of the attempt.
    pub timeout: Duration,
    pub execution_id: String,
    /// What `episode.publish` adds to the manifest (costs, plugins); none for other calls,
    /// since it grows with the history and would cost every step.
    pub manifest_extra: Option<Value>,
    /// The key an identical plugin call would share (`lineage::reuse_key`); none for the
    /// host's own functions, whose results are files of this execution.
    pub reuse_key: Option<String>,
    /// Whether the run or the workflow lets this attempt reuse an identical call's result.
    pub reuse_identical: bool,
    /// Where the attempt tells its driver that it waits for its plugin's flow control, and
    /// when it got its slot, as `ActivityWaiting` and `ActivitySlotTaken` to record.
    pub slot_notices: tokio::sync::mpsc::UnboundedSender<Event>,
    /// Whether the history has this attempt waiting for a slot: a process that died while it
    /// waited left no `ActivitySlotTaken`, so this run records one even if it need not wait.
    pub recorded_waiting: bool,
}

/// What a successful call produced.
#[derive(Clone)]
struct Produced {
    output: Value,
    usage: Option<Value>,
    cost: Option<Cost>,
}

/// Why an attempt ended without a result.
pub(super) enum AttemptError {
    /// The call failed; recorded as `ActivityFailed`, and retried or not by its kind.
    Failed(ActivityError),
    /// The host's own storage failed (a full disk, a permission) while keeping the result.
    /// Neither the provider nor the activity is at fault, so nothing is recorded: the drive
    /// stops and a resume runs the attempt again once the disk is fixed.
    Storage(String),
}

impl From<ActivityError> for AttemptError {
    fn from(error: ActivityError) -> AttemptError {
        AttemptError::Failed(error)
    }
}

impl From<crate::blob_store::BlobError> for AttemptError {
    fn from(error: crate::blob_store::BlobError) -> AttemptError {
        AttemptError::Storage(error.to_string())
    }
}

impl Engine {
    /// Runs the attempt and returns `ActivityCompleted` or `ActivityFailed`, or the failure
    /// of the host's own storage, which is not an outcome of the activity.
    pub(super) async fn run_activity(&self, job: ActivityJob) -> Result<Event, EngineError> {
        let started = Instant::now();
        let reused = self.reusable(&job);
        let outcome = match (&reused, &job.plugin) {
            (Some((produced, _)), _) => Ok(produced.clone()),
            (None, Some(pin)) => self.call_plugin(&job, pin).await,
            (None, None) => self.run_builtin(&job).await,
        }
        .and_then(|produced| {
            check_output(&job.checks, &job.check_context, &produced.output)?;
            Ok(produced)
        });
        let duration_ms = started.elapsed().as_millis() as u64;
        match outcome {
            Ok(produced) => Ok(Event::ActivityCompleted {
                activity: job.activity,
                attempt: job.attempt,
                output: produced.output,
                usage: produced.usage,
                cost: produced.cost,
                plugin: job.plugin,
                duration_ms,
                reuse_key: job.reuse_key,
                reused_from: reused.map(|(_, from)| from),
            }),
            Err(AttemptError::Failed(error)) => Ok(Event::ActivityFailed {
                activity: job.activity,
                attempt: job.attempt,
                error,
                plugin: job.plugin,
            }),
            Err(AttemptError::Storage(message)) => Err(EngineError::Storage {
                execution_id: job.execution_id,
                activity: job.activity.0,
                message,
            }),
        }
    }

    /// The result of an identical completed call, when this attempt may reuse one: its
    /// output at no cost, and where it was recorded. A source that cannot be read (or does not
    /// hold what the index says) is logged and the plugin is called instead.
    fn reusable(&self, job: &ActivityJob) -> Option<(Produced, ReusedFrom)> {
        let key = job.reuse_key.as_ref().filter(|_| job.reuse_identical)?;
        let lookup = self
            .store
            .reusable_result(key)
            .and_then(|found| match found {
                Some(from) => Ok(self
                    .store
                    .read(&from.execution_id.0)?
                    .into_iter()
                    .find(|stored| stored.sequence == from.sequence)
                    .map(|stored| (stored, from))),
                None => Ok(None),
            });
        let (stored, from) = match lookup {
            Ok(found) => found?,
            Err(error) => {
                tracing::warn!(%error, activity = %job.activity, "cannot read a reusable result; calling the plugin");
                return None;
            }
        };
        match Event::from_payload(&stored.event_type, &stored.payload) {
            Ok(Event::ActivityCompleted {
                output,
                reuse_key: Some(recorded),
                ..
            }) if &recorded == key => Some((
                Produced {
                    output,
                    usage: None,
                    cost: None,
                },
                from,
            )),
            _ => {
                tracing::warn!(activity = %job.activity, source = %from.execution_id, sequence = from.sequence, "the reuse index points at an event that is not a completion under this key; calling the plugin");
                None
            }
        }
    }

    async fn call_plugin(
        &self,
        job: &ActivityJob,
        pin: &PluginPin,
    ) -> Result<Produced, AttemptError> {
        let now_ms = self.clock.now_ms();
        if let Some((message, remaining)) = self.breakers.refusal(&pin.name, now_ms) {
            return Err(ActivityError {
                retry_after_ms: Some(remaining),
                ..ActivityError::new(ErrorKind::CircuitOpen, message)
            }
            .into());
        }
        let (service_name, _) = job.call.split_once('.').unwrap_or((job.call.as_str(), ""));
        let service = Service::from_name(service_name)
            .ok_or_else(|| invalid_input(format!("unknown service `{service_name}`")))?;
        let plugin = self
            .plugins
            .load_for(&pin.name, service)
            .map_err(|error| ActivityError::new(ErrorKind::PluginUnavailable, error.to_string()))?;
        if plugin.digest != pin.digest {
            return Err(ActivityError::new(
                ErrorKind::PluginChanged,
                format!(
                    "plugin `{}` is now {} but this execution pinned {}; restore that build of the plugin to continue",
                    pin.name, plugin.digest, pin.digest
                ),
            )
            .into());
        }
        let plugin = match &job.grants {
            Some(grants) => PluginHost::with_workflow_grants(&plugin, grants).map_err(|error| {
                ActivityError::new(ErrorKind::PluginUnavailable, error.to_string())
            })?,
            None => plugin,
        };
        let permit = self.wait_for_slot(job, pin).await;
        let call = self.dispatch(service, &plugin, job);
        let result = match tokio::time::timeout(job.timeout, call).await {
            Ok(result) => result,
            Err(_) => Err(ActivityError::new(
                ErrorKind::DeadlineExceeded,
                format!(
                    "the attempt did not finish within the stage's {}s timeout",
                    job.timeout.as_secs_f64()
                ),
            )
            .into()),
        };
        // The breaker counts what the provider did: a bad input never reached it, and the
        // host's storage failing after it answered is no failure of the provider.
        let provider_failed = match &result {
            Ok(_) | Err(AttemptError::Storage(_)) => Some(false),
            Err(AttemptError::Failed(error)) if error.kind == ErrorKind::InvalidInput => None,
            Err(AttemptError::Failed(error)) => Some(error.retryable),
        };
        if let Some(failed) = provider_failed {
            self.breakers
                .record(&pin.name, !failed, self.clock.now_ms());
        }
        if let (Some(permit), Ok(produced)) = (&permit, &result) {
            permit.used_tokens(tokens_of(produced.usage.as_ref()));
        }
        result
    }

    /// Waits for the plugin's flow control, telling the driver when the attempt has to wait
    /// and when it got its slot.
    async fn wait_for_slot(&self, job: &ActivityJob, pin: &PluginPin) -> Option<FlowPermit> {
        let mut waited = false;
        let permit = self
            .flow
            .acquire(&pin.name, |reason| {
                waited = true;
                // A driver that stopped listening has stopped driving; nothing to tell.
                let _ = job.slot_notices.send(Event::ActivityWaiting {
                    activity: job.activity.clone(),
                    attempt: job.attempt,
                    plugin: pin.name.clone(),
                    reason,
                });
            })
            .await;
        if waited || job.recorded_waiting {
            let _ = job.slot_notices.send(Event::ActivitySlotTaken {
                activity: job.activity.clone(),
                attempt: job.attempt,
            });
        }
        permit
    }

    async fn dispatch(
        &self,
        service: Service,
        plugin: &Arc<LoadedPlugin>,
        job: &ActivityJob,
    ) -> Result<Produced, AttemptError> {
        let input = &job.input;
        let key = job.idempotency_key.clone();
        match service {
            Service::Llm => {
                let schema = input.get("json_schema").filter(|schema| !schema.is_null());
                let request = llm::GenerateRequest {
                    idempotency_key: key,
                    model: optional_string(input, "model"),
                    messages: messages(input)?,
                    json_schema: schema.map(Value::to_string),
                    temperature: input
                        .get("temperature")
                        .and_then(Value::as_f64)
                        .map(|value| value as f32),
                    max_tokens: input
                        .get("max_tokens")
                        .and_then(Value::as_u64)
                        .map(|value| value as u32),
                };
                let response = self
                    .plugins
                    .generate_text(plugin, &request)
                    .await
                    .map_err(call_error)?;
                let output = match schema {
                    None => Value::String(response.text.clone()),
                    Some(schema) => {
                        let answer: Value =
                            serde_json::from_str(&response.text).map_err(|error| {
                                ActivityError::new(
                                    ErrorKind::MalformedAnswer,
                                    format!("the answer is not JSON: {error}"),
                                )
                            })?;
                        pipeline_core::json_schema::check(schema, &answer).map_err(|problems| {
                            ActivityError::new(
                                ErrorKind::SchemaViolation,
                                format!("the answer does not match the stage's schema: {problems}"),
                            )
                        })?;
                        answer
                    }
                };
                Ok(Produced {
                    output,
                    usage: Some(usage_json(&response.usage)),
                    cost: Some(cost(&response.cost)),
                })
            }
            Service::Tts => {
                let request = tts::SynthesizeRequest {
                    idempotency_key: key,
                    text: required_string(input, "text")?,
                    voice: required_string(input, "voice")?,
                    style: optional_string(input, "style"),
                    speed: input.get("speed").and_then(Value::as_f64).unwrap_or(1.0) as f32,
                    model: optional_string(input, "model"),
                };
                let response = self
                    .plugins
                    .synthesize_speech(plugin, &request)
                    .await
                    .map_err(call_error)?;
                let audio = self.put_blob(&response.audio, "audio/wav")?;
                Ok(Produced {
                    output: json!({ "audio": audio, "duration_ms": response.duration_ms }),
                    usage: Some(usage_json(&response.usage)),
                    cost: Some(cost(&response.cost)),
                })
            }
            Service::Image => {
                let request = image::GenerateRequest {
                    idempotency_key: key,
                    prompt: required_string(input, "prompt")?,
                    title: optional_string(input, "title"),
                    width: input.get("width").and_then(Value::as_u64).unwrap_or(1400) as u32,
                    height: input.get("height").and_then(Value::as_u64).unwrap_or(1400) as u32,
                    style: optional_string(input, "style"),
                    model: optional_string(input, "model"),
                };
                let response = self
                    .plugins
                    .generate_image(plugin, &request)
                    .await
                    .map_err(call_error)?;
                let image = self.put_blob(&response.png, "image/png")?;
                Ok(Produced {
                    output: json!({ "image": image, "width": response.width, "height": response.height, "revised_prompt": response.revised_prompt }),
                    usage: Some(usage_json(&response.usage)),
                    cost: Some(cost(&response.cost)),
                })
            }
            Service::Mixer => self.mix(plugin, job).await,
        }
    }

    async fn mix(
        &self,
        plugin: &Arc<LoadedPlugin>,
        job: &ActivityJob,
    ) -> Result<Produced, AttemptError> {
        let input = &job.input;
        let clips = input
            .get("clips")
            .and_then(Value::as_array)
            .ok_or_else(|| invalid_input("`clips` must be a list of audio results".into()))?;
        let mut sources = Vec::with_capacity(clips.len());
        for (index, clip) in clips.iter().enumerate() {
            sources.push(AudioInput::File(self.blob_path(
                clip,
                "audio",
                &format!("clip {index}"),
            )?));
        }
        let music = match input.get("music").filter(|music| !music.is_null()) {
            None => None,
            Some(music) => {
                sources.push(AudioInput::File(self.blob_path(music, "audio", "music")?));
                Some(mixer::MusicBed {
                    source: (sources.len() - 1) as u32,
                    gain_db: number(input, "music_gain_db", -18.0),
                    duck_db: number(input, "duck_db", 12.0),
                    duck_attack_ms: 200,
                    duck_release_ms: 600,
                })
            }
        };
        let request = mixer::MixRequest {
            idempotency_key: job.idempotency_key.clone(),
            clips: (0..clips.len())
                .map(|index| mixer::Clip {
                    source: index as u32,
                    gain_db: 0.0,
                    gap_before_ms: None,
                })
                .collect(),
            music,
            settings: mixer::MixSettings {
                gap_ms: number(input, "gap_ms", 350.0) as u32,
                crossfade_ms: number(input, "crossfade_ms", 20.0) as u32,
                padding_ms: number(input, "padding_ms", 500.0) as u32,
                sample_rate: number(input, "sample_rate", mixer::DEFAULT_SAMPLE_RATE as f32) as u32,
                channels: number(input, "channels", f32::from(mixer::DEFAULT_CHANNELS)) as u8,
                loudness_lufs: input
                    .get("loudness_lufs")
                    .and_then(Value::as_f64)
                    .map(|value| value as f32),
                true_peak_dbtp: number(input, "true_peak_dbtp", -1.0),
            },
        };
        let scratch = self.blobs.scratch_path()?;
        let result = self
            .plugins
            .mix_audio(plugin, &request, &sources, &scratch)
            .await;
        let response = match result {
            Ok(response) => response,
            Err(CallError::OutputNotWritten { reason, .. }) => {
                let _ = std::fs::remove_file(&scratch);
                return Err(AttemptError::Storage(reason));
            }
            Err(error) => {
                let _ = std::fs::remove_file(&scratch);
                return Err(call_error(error).into());
            }
        };
        let audio = self.blobs.put_file(&scratch, "audio/wav");
        let _ = std::fs::remove_file(&scratch);
        let placements: Vec<Value> = response
            .placements
            .iter()
            .map(|placement| json!({ "clip": placement.clip, "start_ms": placement.start_ms, "end_ms": placement.end_ms }))
            .collect();
        Ok(Produced {
            output: json!({
                "audio": audio?,
                "duration_ms": response.duration_ms,
                "integrated_lufs": response.integrated_lufs,
                "true_peak_dbtp": response.true_peak_dbtp,
                "placements": placements,
            }),
            usage: Some(usage_json(&response.usage)),
            cost: Some(cost(&response.cost)),
        })
    }

    async fn run_builtin(&self, job: &ActivityJob) -> Result<Produced, AttemptError> {
        match job.call.as_str() {
            PUBLISH_CALL => {
                let engine = self.clone();
                let job = job.clone();
                let output = tokio::task::spawn_blocking(move || engine.publish_episode(&job))
                    .await
                    .map_err(|error| host_error(format!("publishing stopped: {error}")))??;
                Ok(Produced {
                    output,
                    usage: None,
                    cost: None,
                })
            }
            other => Err(invalid_input(format!("unknown host function `{other}`")).into()),
        }
    }

    fn put_blob(&self, bytes: &[u8], media_type: &str) -> Result<Value, AttemptError> {
        let blob = self.blobs.put(bytes, media_type)?;
        Ok(serde_json::to_value(blob).expect("a blob reference is plain data"))
    }

    /// The verified file of the blob in `value[field]` (or `value` itself when it is a blob
    /// reference).
    pub(super) fn blob_path(
        &self,
        value: &Value,
        field: &str,
        what: &str,
    ) -> Result<std::path::PathBuf, ActivityError> {
        let reference = value.get(field).unwrap_or(value);
        let blob: BlobRef = serde_json::from_value(reference.clone()).map_err(|_| {
            invalid_input(format!(
                "{what} is not an {field} result (expected {{\"{field}\": {{\"digest\": ...}}}})"
            ))
        })?;
        self.blobs
            .verify(&blob)
            .map_err(|error| ActivityError::new(ErrorKind::BlobCorrupt, error.to_string()))
    }
}

fn messages(input: &Value) -> Result<Vec<llm::Message>, ActivityError> {
    let list = input
        .get("messages")
        .and_then(Value::as_array)
        .ok_or_else(|| invalid_input("an LLM call needs `messages`".into()))?;
    list.iter()
        .map(|message| {
            let role = match message.get("role").and_then(Value::as_str) {
                Some("system") => llm::Role::System,
                Some("assistant") => llm::Role::Assistant,
                _ => llm::Role::User,
            };
            Ok(llm::Message {
                role,
                content: required_string(message, "content")?,
            })
        })
        .collect()
}

fn required_string(input: &Value, field: &str) -> Result<String, ActivityError> {
    match input.get(field) {
        Some(Value::String(text)) => Ok(text.clone()),
        Some(Value::Number(number)) => Ok(number.to_string()),
        _ => Err(invalid_input(format!("input `{field}` must be text"))),
    }
}

fn optional_string(input: &Value, field: &str) -> Option<String> {
    input
        .get(field)
        .and_then(Value::as_str)
        .filter(|text| !text.is_empty())
        .map(str::to_string)
}

fn number(input: &Value, field: &str, default: f32) -> f32 {
    input
        .get(field)
        .and_then(Value::as_f64)
        .map_or(default, |value| value as f32)
}

fn usage_json(usage: &Usage) -> Value {
    let quantity = |quantity: &crate::plugin::types::Quantity| json!({ "amount": quantity.amount, "unit": crate::plugin::types::unit_name(quantity.unit) });
    json!({ "input": quantity(&usage.input), "output": quantity(&usage.output) })
}

/// The tokens a call's recorded usage counts (input and output), for the token limits.
fn tokens_of(usage: Option<&Value>) -> u64 {
    let Some(usage) = usage else { return 0 };
    ["input", "output"]
        .iter()
        .filter_map(|side| usage.get(side))
        .filter(|quantity| quantity.get("unit").and_then(Value::as_str) == Some("tokens"))
        .filter_map(|quantity| quantity.get("amount").and_then(Value::as_u64))
        .sum()
}

fn cost(cost: &WitCost) -> Cost {
    Cost {
        amount_micros: cost.amount_micros,
        currency: cost.currency.clone(),
    }
}

fn call_error(error: CallError) -> ActivityError {
    let retry_after_ms = match &error {
        CallError::Provider { error, .. } => error.retry_after_ms,
        _ => None,
    };
    ActivityError {
        kind: error.kind(),
        retryable: error.is_retryable(),
        message: error.to_string(),
        retry_after_ms,
    }
}

pub(super) fn invalid_input(message: String) -> ActivityError {
    ActivityError::new(ErrorKind::InvalidInput, message)
}

pub(super) fn host_error(message: String) -> ActivityError {
    ActivityError::new(ErrorKind::Host, message)
}
