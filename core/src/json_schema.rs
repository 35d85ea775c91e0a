//! Checking a JSON value against a stage's schema: an LLM's answer, or a person's edited
//! replacement of it.

use serde_json::Value;

/// Checks `value` against `schema`; the error lists the first few problems, each with where in
/// the value it is.
pub fn check(schema: &Value, value: &Value) -> Result<(), String> {
    let validator = jsonschema::validator_for(schema)
        .map_err(|error| format!("the schema is invalid: {error}"))?;
    let problems: Vec<String> = validator
        .iter_errors(value)
        .take(5)
        .map(|error| {
            let path = error.instance_path().to_string();
            // The validator's messages quote the offending value, which can be huge.
            format!(
                "{}: {}",
                if path.is_empty() {
                    "(top level)"
                } else {
                    path.as_str()
                },
                crate::text::abbreviate(&error.to_string(), 200)
            )
        })
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}
