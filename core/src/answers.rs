//! Answers held to what later stages rely on: a stage's output checks, evaluated on every
//! attempt's output before it counts, and the feedback the next attempt's request carries when
//! an answer was not accepted.

use serde_json::{Value, json};

use crate::error_kind::ErrorKind;
use crate::event::ActivityError;
use crate::state::ActivityState;
use crate::template;
use crate::workflow::OutputCheck;

/// How many violations one failure names: a model needs the first few, not hundreds.
const MAX_VIOLATIONS_NAMED: usize = 5;

/// Checks an attempt's `output` against the stage's `checks`. `context` is the stage's
/// template context; the checks see it with `output` added (and `item`, `index` for a check
/// with `for_each`). A violation is a retryable `check-failed` naming what is wrong.
pub fn check_output(
    checks: &[OutputCheck],
    context: &Value,
    output: &Value,
) -> Result<(), ActivityError> {
    if checks.is_empty() {
        return Ok(());
    }
    let mut scope = context.clone();
    scope["output"] = output.clone();
    let violations: Vec<String> = checks
        .iter()
        .flat_map(|check| violations_of(check, &mut scope))
        .collect();
    if violations.is_empty() {
        return Ok(());
    }
    let mut named: Vec<String> = violations
        .iter()
        .take(MAX_VIOLATIONS_NAMED)
        .cloned()
        .collect();
    if violations.len() > MAX_VIOLATIONS_NAMED {
        named.push(format!(
            "and {} more",
            violations.len() - MAX_VIOLATIONS_NAMED
        ));
    }
    Err(ActivityError::new(
        ErrorKind::CheckFailed,
        format!("the answer failed its checks: {}", named.join("; ")),
    ))
}

/// The input an attempt sends: the recorded input, and for an LLM call whose previous attempt
/// gave an answer that was not accepted, a last user message saying why. It is derived from
/// the recorded failure alone, so an attempt run again after a crash sends the same request.
pub fn attempt_input(activity: &ActivityState, attempt: u32) -> Value {
    let mut input = activity.input.clone();
    let rejected = activity
        .last_error
        .as_ref()
        .filter(|error| attempt > 1 && error.kind.is_rejected_answer());
    if let Some(error) = rejected
        && let Some(messages) = input.get_mut("messages").and_then(Value::as_array_mut)
    {
        messages.push(json!({ "role": "user", "content": feedback(error) }));
    }
    input
}

/// What the model is told about its previous answer.
pub fn feedback(error: &ActivityError) -> String {
    format!(
        "Your previous answer was not accepted: {}. Answer again, fixing that.",
        error.message.trim_end_matches('.')
    )
}

/// The violations of one check, each a sentence for the model. `scope` is the context with
/// `output`; `item` and `index` are set in it while a `for_each` check runs.
fn violations_of(check: &OutputCheck, scope: &mut Value) -> Vec<String> {
    let items = match &check.for_each {
        None => None,
        Some(expression) => match template::evaluate(expression, scope) {
            Ok(Value::Array(items)) => Some(items),
            Ok(_) => {
                return vec![format!(
                    "`{expression}` does not give a list to check `{}` on",
                    check.that
                )];
            }
            Err(problem) => return vec![format!("`{expression}` cannot be read: {problem}")],
        },
    };
    let Some(items) = items else {
        return violation(check, scope).into_iter().collect();
    };
    let mut violations = Vec::new();
    for (index, item) in items.into_iter().enumerate() {
        scope["item"] = item;
        scope["index"] = index.into();
        violations.extend(violation(check, scope));
    }
    if let Some(fields) = scope.as_object_mut() {
        fields.remove("item");
        fields.remove("index");
    }
    violations
}

/// The check's message when `that` does not hold in `scope`.
fn violation(check: &OutputCheck, scope: &Value) -> Option<String> {
    match template::evaluate(&check.that, scope) {
        Ok(value) if template::is_truthy(&value) => None,
        Ok(_) => Some(
            template::render_text(&check.message, scope)
                .unwrap_or_else(|_| format!("`{}` does not hold", check.that)),
        ),
        Err(problem) => Some(format!("`{}` cannot be checked: {problem}", check.that)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::StageId;
    use crate::state::ActivityStatus;

    fn speakers_check() -> OutputCheck {
        OutputCheck {
            for_each: Some("output.lines".into()),
            that: "item.speaker in inputs.hosts".into(),
            message: "line {{ index + 1 }} is spoken by {{ item.speaker }}, not one of {{ inputs.hosts | join(', ') }}".into(),
        }
    }

    #[test]
    fn every_violating_item_is_named_by_its_message() {
        let context = json!({ "inputs": { "hosts": ["Maya", "Theo"] } });
        let output = json!({ "lines": [
            { "speaker": "Maya" }, { "speaker": "Zed" }, { "speaker": "Theo" }, { "speaker": "Ann" }
        ] });
        let error = check_output(&[speakers_check()], &context, &output).unwrap_err();
        assert_eq!(error.kind, ErrorKind::CheckFailed);
        assert!(error.retryable);
        assert_eq!(
            error.message,
            "the answer failed its checks: line 2 is spoken by Zed, not one of Maya, Theo; \
             line 4 is spoken by Ann, not one of Maya, Theo"
        );
        let fine = json!({ "lines": [{ "speaker": "Theo" }] });
        assert_eq!(check_output(&[speakers_check()], &context, &fine), Ok(()));
    }

    #[test]
    fn an_answer_without_the_checked_list_fails_the_check() {
        let context = json!({ "inputs": { "hosts": ["Maya"] } });
        let error = check_output(&[speakers_check()], &context, &json!("text")).unwrap_err();
        assert!(error.message.contains("output.lines"), "{}", error.message);
    }

    #[test]
    fn a_retry_after_a_rejected_answer_tells_the_model_why() {
        let mut activity = ActivityState {
            stage: StageId("script".into()),
            item: None,
            call: "llm.generate".into(),
            input: json!({ "messages": [{ "role": "user", "content": "Write." }] }),
            status: ActivityStatus::Scheduled,
            attempts: 1,
            plugin: None,
            last_error: Some(ActivityError::new(
                ErrorKind::CheckFailed,
                "the answer failed its checks: line 2 is spoken by Zed",
            )),
            resumed_after: 0,
            slot_wait: None,
        };
        let messages = attempt_input(&activity, 2)["messages"].clone();
        assert_eq!(
            messages[1]["content"],
            "Your previous answer was not accepted: the answer failed its checks: line 2 is \
             spoken by Zed. Answer again, fixing that."
        );
        assert_eq!(attempt_input(&activity, 1), activity.input);
        activity.last_error = Some(ActivityError::new(ErrorKind::Unavailable, "down"));
        assert_eq!(attempt_input(&activity, 2), activity.input);
    }
}
