//! What a call cost, from a price table per model: built-in list prices for the models a plugin
//! knows, overridden or extended by a JSON object in an environment variable
//! (`OPENAI_PRICES`, `ELEVENLABS_PRICES`):
//!
//! ```json
//! {"gpt-4o-mini": {"input_usd_per_million": 0.15, "output_usd_per_million": 0.6},
//!  "dall-e-3": {"output_usd_per_million": 40000}}
//! ```
//!
//! Prices are US dollars per million units of the call's usage: tokens for an LLM (input is
//! the prompt, output the completion), characters of input for speech, images of output for
//! image generation (so $0.04 an image is 40000 per million). A missing field is 0. A model in
//! neither table costs 0, which the plugin's documentation says; local servers are free.

use std::collections::BTreeMap;

use crate::error;
use crate::types::{Cost, ErrorKind, ProviderError};

/// The price of one model.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    #[serde(default)]
    pub input_usd_per_million: f64,
    #[serde(default)]
    pub output_usd_per_million: f64,
}

/// Prices by model name.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PriceTable {
    prices: BTreeMap<String, Price>,
}

impl PriceTable {
    /// The built-in prices with the JSON of `overrides` (the value of the plugin's prices
    /// variable, if set) laid over them. Malformed JSON is a permanent error naming
    /// `variable`: guessing prices silently would misreport every cost.
    /// The table for `defaults` with the overrides in the environment variable `variable`.
    pub fn from_environment(
        defaults: &[(&str, Price)],
        variable: &str,
        environment: &dyn crate::config::Environment,
    ) -> Result<PriceTable, ProviderError> {
        PriceTable::new(defaults, variable, environment.get(variable).as_deref())
    }

    pub fn new(
        defaults: &[(&str, Price)],
        variable: &str,
        overrides: Option<&str>,
    ) -> Result<PriceTable, ProviderError> {
        let mut prices: BTreeMap<String, Price> = defaults
            .iter()
            .map(|(model, price)| (model.to_string(), *price))
            .collect();
        if let Some(text) = overrides {
            let extra: BTreeMap<String, Price> = serde_json::from_str(text).map_err(|parse| {
                error::permanent(
                    ErrorKind::InvalidRequest,
                    format!("{variable} is not a price table ({parse}); expected {{\"<model>\": {{\"input_usd_per_million\": 0.15, \"output_usd_per_million\": 0.6}}}}"),
                )
            })?;
            prices.extend(extra);
        }
        Ok(PriceTable { prices })
    }

    /// The cost of `input` and `output` units of `model`, in micro-dollars. A dated model name
    /// (`gpt-4o-mini-2024-07-18`, as OpenAI reports the model that answered) is priced as the
    /// longest listed name it starts with.
    pub fn cost(&self, model: &str, input: u64, output: u64) -> Cost {
        let price = self.prices.get(model).copied().or_else(|| {
            self.prices
                .iter()
                .filter(|(name, _)| model.starts_with(name.as_str()))
                .max_by_key(|(name, _)| name.len())
                .map(|(_, price)| *price)
        });
        let price = price.unwrap_or_default();
        // Dollars per million units equal micro-dollars per unit.
        let micros = input as f64 * price.input_usd_per_million
            + output as f64 * price.output_usd_per_million;
        Cost {
            amount_micros: micros.max(0.0).round() as u64,
            currency: "USD".into(),
        }
    }
}

/// A price with only an input side (speech, billed per character).
pub const fn per_input(usd_per_million: f64) -> Price {
    Price {
        input_usd_per_million: usd_per_million,
        output_usd_per_million: 0.0,
    }
}

/// A price per unit of output (images).
pub const fn per_output(usd_per_million: f64) -> Price {
    Price {
        input_usd_per_million: 0.0,
        output_usd_per_million: usd_per_million,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEFAULTS: &[(&str, Price)] = &[
        (
            "gpt-4o-mini",
            Price {
                input_usd_per_million: 0.15,
                output_usd_per_million: 0.6,
            },
        ),
        ("gpt-4o", per_input(2.5)),
    ];

    #[test]
    fn costs_follow_the_table_and_its_overrides() {
        let table = PriceTable::new(DEFAULTS, "OPENAI_PRICES", None).unwrap();
        assert_eq!(
            table
                .cost("gpt-4o-mini", 1_000_000, 1_000_000)
                .amount_micros,
            750_000
        );
        assert_eq!(
            table.cost("gpt-4o-mini-2024-07-18", 1000, 0).amount_micros,
            150
        );
        assert_eq!(table.cost("llama3.2", 1000, 1000).amount_micros, 0);

        let table = PriceTable::new(
            DEFAULTS,
            "OPENAI_PRICES",
            Some(r#"{"llama3.2": {"input_usd_per_million": 1, "output_usd_per_million": 2}}"#),
        )
        .unwrap();
        assert_eq!(table.cost("llama3.2", 1000, 1000).amount_micros, 3000);
        assert_eq!(table.cost("gpt-4o-mini", 1000, 0).amount_micros, 150);
    }

    #[test]
    fn a_malformed_table_is_refused_by_name() {
        let error = PriceTable::new(DEFAULTS, "OPENAI_PRICES", Some("{oops")).unwrap_err();
        assert!(!error.retryable);
        assert!(error.message.contains("OPENAI_PRICES"));
    }
}
