//! The four services a plugin can provide, and how each one appears in a component's exports.

use std::fmt;

/// The WIT package every service interface belongs to.
pub const WIT_PACKAGE: &str = "pipeline:services";
/// The version of that package this host implements.
pub const WIT_VERSION: &str = "0.1.0";

/// A service world from `wit/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Service {
    Llm,
    Tts,
    Mixer,
    Image,
}

impl Service {
    pub const ALL: [Service; 4] = [Service::Llm, Service::Tts, Service::Mixer, Service::Image];

    /// The short name used in workflow files and on the command line (`llm.generate`).
    pub fn name(self) -> &'static str {
        match self {
            Service::Llm => "llm",
            Service::Tts => "tts",
            Service::Mixer => "mixer",
            Service::Image => "image",
        }
    }

    /// The WIT world a plugin for this service targets.
    pub fn world(self) -> &'static str {
        match self {
            Service::Llm => "llm-provider",
            Service::Tts => "tts-provider",
            Service::Mixer => "mixer-provider",
            Service::Image => "image-provider",
        }
    }

    /// The fully qualified interface name a plugin for this service must export.
    pub fn export_name(self) -> &'static str {
        match self {
            Service::Llm => "pipeline:services/llm@0.1.0",
            Service::Tts => "pipeline:services/tts@0.1.0",
            Service::Mixer => "pipeline:services/mixer@0.1.0",
            Service::Image => "pipeline:services/image@0.1.0",
        }
    }

    /// Parses the short name (`llm`, `tts`, `mixer`, `image`).
    pub fn from_name(name: &str) -> Option<Service> {
        Service::ALL
            .into_iter()
            .find(|service| service.name() == name)
    }
}

impl fmt::Display for Service {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn export_names_follow_the_wit_package() {
        for service in Service::ALL {
            assert_eq!(
                service.export_name(),
                format!("{WIT_PACKAGE}/{}@{WIT_VERSION}", service.name())
            );
            assert_eq!(Service::from_name(service.name()), Some(service));
        }
    }
}
