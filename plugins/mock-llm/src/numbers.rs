//! Numbers and booleans: plausible values chosen by property name, then fitted to the
//! schema's bounds.

use serde_json::{Number, Value};

use crate::hash::in_range;
use crate::kinds::NumberKind;
use crate::request::Failure;
use crate::schema::number;

/// Where in the document a number sits, which changes what is plausible: a line lasts
/// seconds, a segment minutes, an episode half an hour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scale {
    Line,
    Segment,
    Document,
}

/// A plausible value for a property of `kind`.
pub fn preferred(kind: NumberKind, scale: Scale, index: Option<usize>, seed: u64) -> f64 {
    let between = |low: i64, high: i64| in_range(seed, low, high) as f64;
    let seconds = || match scale {
        Scale::Line => between(3, 12),
        Scale::Segment => between(180, 420),
        Scale::Document => between(1200, 1800),
    };
    match kind {
        NumberKind::Minutes => match scale {
            Scale::Line => 1.0,
            Scale::Segment => between(4, 8),
            Scale::Document => between(20, 30),
        },
        NumberKind::Seconds => seconds(),
        NumberKind::Milliseconds => seconds() * 1000.0,
        NumberKind::Ordinal => index.map_or(1.0, |index| index as f64 + 1.0),
        NumberKind::WordCount => match scale {
            Scale::Line => between(10, 30),
            Scale::Segment => between(300, 600),
            Scale::Document => between(1500, 3000),
        },
        NumberKind::Score => between(7, 9),
        NumberKind::Fraction => between(80, 95) / 100.0,
        NumberKind::Year => 2024.0,
        NumberKind::Generic => between(3, 8),
    }
}

/// Lower and upper limits of a numeric schema; the flags say whether a limit is exclusive.
struct Bounds {
    low: Option<(f64, bool)>,
    high: Option<(f64, bool)>,
}

fn bounds(schema: &Value) -> Bounds {
    // Draft 4 writes exclusivity as a boolean next to `minimum`; later drafts as a number.
    let limit = |inclusive: &str, exclusive: &str| match schema.get(exclusive) {
        Some(Value::Number(value)) => value.as_f64().map(|value| (value, true)),
        Some(Value::Bool(true)) => number(schema, inclusive).map(|value| (value, true)),
        _ => number(schema, inclusive).map(|value| (value, false)),
    };
    Bounds {
        low: limit("minimum", "exclusiveMinimum"),
        high: limit("maximum", "exclusiveMaximum"),
    }
}

fn impossible(what: &str) -> Failure {
    Failure::invalid(format!("json schema {what} admits no value"))
}

/// `wanted` moved inside the schema's integer bounds and onto its `multipleOf`.
pub fn fit_integer(wanted: f64, schema: &Value) -> Result<Value, Failure> {
    let Bounds { low, high } = bounds(schema);
    let low = low.map(|(value, exclusive)| {
        if exclusive {
            value.floor() + 1.0
        } else {
            value.ceil()
        }
    });
    let high = high.map(|(value, exclusive)| {
        if exclusive {
            value.ceil() - 1.0
        } else {
            value.floor()
        }
    });
    let low = low.unwrap_or(f64::from(i32::MIN)).max(i64::MIN as f64);
    let high = high.unwrap_or(f64::from(i32::MAX)).min(i64::MAX as f64);
    if low > high {
        return Err(impossible("integer range"));
    }
    let mut value = wanted.round().clamp(low, high);
    if let Some(step) = number(schema, "multipleOf").filter(|step| *step > 0.0) {
        let step = step.ceil();
        let candidates = [
            (value / step).round() * step,
            (value / step).ceil() * step,
            (value / step).floor() * step,
        ];
        value = candidates
            .into_iter()
            .find(|candidate| (low..=high).contains(candidate))
            .ok_or_else(|| impossible("integer range with `multipleOf`"))?;
    }
    Ok(Value::Number(Number::from(value as i64)))
}

/// `wanted` moved inside the schema's numeric bounds and onto its `multipleOf`.
pub fn fit_number(wanted: f64, schema: &Value) -> Result<Value, Failure> {
    let Bounds { low, high } = bounds(schema);
    let above_low = |value: f64| match low {
        Some((limit, true)) => value > limit,
        Some((limit, false)) => value >= limit,
        None => true,
    };
    let below_high = |value: f64| match high {
        Some((limit, true)) => value < limit,
        Some((limit, false)) => value <= limit,
        None => true,
    };
    let fits = |value: f64| above_low(value) && below_high(value);
    let mut value = (wanted * 100.0).round() / 100.0;
    if !fits(value) {
        value = match (low, high) {
            (Some((low, _)), Some((high, _))) => low + (high - low) / 2.0,
            (Some((low, exclusive)), None) => low + if exclusive { 1.0 } else { 0.0 },
            (None, Some((high, exclusive))) => high - if exclusive { 1.0 } else { 0.0 },
            (None, None) => value,
        };
    }
    if let Some(step) = number(schema, "multipleOf").filter(|step| *step > 0.0) {
        value = [
            (value / step).round() * step,
            (value / step).ceil() * step,
            (value / step).floor() * step,
        ]
        .into_iter()
        .find(|candidate| fits(*candidate))
        .ok_or_else(|| impossible("number range with `multipleOf`"))?;
    }
    if !fits(value) {
        return Err(impossible("number range"));
    }
    Number::from_f64(value)
        .map(Value::Number)
        .ok_or_else(|| impossible("number range"))
}

/// A plausible boolean: approvals and completion flags are true, content warnings false.
pub fn preferred_bool(words: &[String], seed: u64) -> bool {
    let has = |candidates: &[&str]| words.iter().any(|word| candidates.contains(&word.as_str()));
    if has(&[
        "approved", "ready", "complete", "final", "accepted", "valid", "approve",
    ]) {
        true
    } else if has(&["explicit", "nsfw", "draft", "sensitive"]) {
        false
    } else {
        seed.is_multiple_of(2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn integers_respect_bounds_and_steps() {
        let schema = json!({"minimum": 10, "maximum": 20, "multipleOf": 4});
        assert_eq!(fit_integer(3.0, &schema).expect("fits"), json!(12));
        let schema = json!({"exclusiveMinimum": 5, "exclusiveMaximum": 7});
        assert_eq!(fit_integer(100.0, &schema).expect("fits"), json!(6));
        let schema = json!({"minimum": 5, "maximum": 4});
        assert!(fit_integer(1.0, &schema).is_err());
    }

    #[test]
    fn numbers_respect_exclusive_bounds() {
        let schema = json!({"exclusiveMinimum": 0, "exclusiveMaximum": 1});
        let value = fit_number(5.0, &schema)
            .expect("fits")
            .as_f64()
            .expect("number");
        assert!(value > 0.0 && value < 1.0);
        let draft4 = json!({"minimum": 2, "exclusiveMinimum": true});
        let value = fit_number(2.0, &draft4)
            .expect("fits")
            .as_f64()
            .expect("number");
        assert!(value > 2.0);
    }
}
