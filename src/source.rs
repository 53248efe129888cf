//! Where a MUST comes from ([`Source`]): the vendor's page, an RFC's MUST, or a real client
//! that breaks without it (`api-behaviour.md`, "What real clients depend on"). Anything else is
//! at most a SHOULD, so a check, a case or a contract effect that says MUST names one of these;
//! a test of the check table, the case loader and the contract loader refuse a MUST without.
//!
//! Two more kinds name what the user brought, not the contract: the target's own control
//! protocol (a target that offers it must honour it) and the snapshots the user accepted. The
//! engine's expectation checks (`expect.*`, `capture`) take the source of the case they judge.

use std::fmt;

/// The public clients whose dependencies the contract's MUSTs rest on (api-behaviour.md,
/// "Sources"): a `client:` source names one of them.
pub const CLIENTS: &[(&str, &str)] = &[
    (
        "allie-sdk",
        "the vendor's Python SDK (PyPI allie-sdk 2.2.3): parses success bodies and 401s with .json(), raise_for_status() on anything else",
    ),
    (
        "alation-ai-agent-sdk",
        "the vendor's agent SDK 1.0.0: takes any 2xx of a validation as \"valid\"",
    ),
    (
        "openmetadata",
        "OpenMetadata's Alation connector: sends JSON, reuses one token name on every run",
    ),
    (
        "forthic",
        "linkedin/forthic's Alation module: form bodies through requests; after a regeneration \"the previous token will become invalid\"",
    ),
    (
        "postman",
        "Postman's form-data body, as users try the API by hand",
    ),
    (
        "dotnet-httpclient",
        ".NET's HttpClient: StringContent sends `application/json; charset=utf-8`",
    ),
];

/// Where a requirement comes from.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Source {
    /// The vendor's page (`vendor-page`).
    VendorPage,
    /// An RFC's MUST: `rfc9110#15.6.2` is `Rfc(9110, "15.6.2")`.
    Rfc(u16, String),
    /// What a real client breaks without (`client:allie-sdk`), one of [`CLIENTS`].
    Client(&'static str),
    /// The target's own control protocol, which it offered (`control-protocol`).
    ControlProtocol,
    /// The snapshots the user accepted (`accepted-snapshot`).
    AcceptedSnapshot,
    /// The source of the case whose expectation is judged (`case`): only the engine's own
    /// expectation checks use it.
    Case,
}

/// Why a source text is not one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadSource {
    /// What is wrong.
    pub message: String,
    /// The nearest valid spelling, when there is one.
    pub hint: Option<String>,
}

impl Source {
    /// Parses `vendor-page`, `rfcNNNN#SECTION`, `client:NAME`, `control-protocol`,
    /// `accepted-snapshot` or `case`.
    pub fn parse(text: &str) -> Result<Self, BadSource> {
        let bad = |message: String, hint: Option<String>| BadSource { message, hint };
        match text {
            "vendor-page" => return Ok(Self::VendorPage),
            "control-protocol" => return Ok(Self::ControlProtocol),
            "accepted-snapshot" => return Ok(Self::AcceptedSnapshot),
            "case" => return Ok(Self::Case),
            _ => {}
        }
        if let Some(name) = text.strip_prefix("client:") {
            return CLIENTS
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(n, _)| Self::Client(n))
                .ok_or_else(|| {
                    let known: Vec<&str> = CLIENTS.iter().map(|(n, _)| *n).collect();
                    bad(
                        format!("`{name}` is not a client the contract's sources name"),
                        Some(format!("known clients: {}", known.join(", "))),
                    )
                });
        }
        if let Some(rest) = text.strip_prefix("rfc") {
            let (number, section) = rest.split_once('#').unwrap_or((rest, ""));
            let section_ok = !section.is_empty()
                && section
                    .split('.')
                    .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric()));
            return match number.parse::<u16>() {
                Ok(n) if section_ok => Ok(Self::Rfc(n, section.to_owned())),
                _ => Err(bad(
                    format!("`{text}` is not an RFC and section"),
                    Some("write it as rfc9110#15.6.2".into()),
                )),
            };
        }
        Err(bad(
            format!("`{text}` is not a source"),
            Some(
                "a MUST rests on vendor-page, an RFC's MUST (rfc9110#15.6.2), or a real client \
                 (client:allie-sdk)"
                    .into(),
            ),
        ))
    }

    /// Whether a MUST may rest on it alone: the contract's own sources, or the target's own
    /// control protocol and accepted snapshots (which the user brought).
    pub fn is_concrete(&self) -> bool {
        !matches!(self, Self::Case)
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::VendorPage => f.write_str("vendor-page"),
            Self::Rfc(n, s) => write!(f, "rfc{n}#{s}"),
            Self::Client(c) => write!(f, "client:{c}"),
            Self::ControlProtocol => f.write_str("control-protocol"),
            Self::AcceptedSnapshot => f.write_str("accepted-snapshot"),
            Self::Case => f.write_str("case"),
        }
    }
}

impl<'de> serde::Deserialize<'de> for Source {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Self::parse(&text).map_err(|e| match e.hint {
            Some(h) => serde::de::Error::custom(format!("{} ({h})", e.message)),
            None => serde::de::Error::custom(e.message),
        })
    }
}

impl serde::Serialize for Source {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A list of sources, as reports print it: `vendor-page, client:allie-sdk`.
pub fn list(sources: &[Source]) -> String {
    sources
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_parses_and_prints_back() {
        for text in [
            "vendor-page",
            "rfc9110#15.6.2",
            "rfc6749#10.10",
            "client:allie-sdk",
            "control-protocol",
            "accepted-snapshot",
            "case",
        ] {
            assert_eq!(Source::parse(text).map(|s| s.to_string()), Ok(text.into()));
        }
    }

    /// The case files' editor schema spells the same clients.
    #[test]
    fn the_editor_schema_knows_every_client() {
        let schema = include_str!("../cases/case.schema.json");
        for (name, _) in CLIENTS {
            assert!(
                schema.contains(name),
                "cases/case.schema.json lacks client:{name}"
            );
        }
    }

    #[test]
    fn a_project_decision_or_a_typo_is_no_source() {
        for (text, hint) in [
            ("decision", "vendor-page"),
            ("rfc9110", "rfc9110#15.6.2"),
            ("rfc9110#", "rfc9110#15.6.2"),
            ("rfcx#1", "rfc9110#15.6.2"),
            ("client:alie-sdk", "allie-sdk"),
        ] {
            let e = Source::parse(text).expect_err(text);
            assert!(
                e.hint.as_deref().is_some_and(|h| h.contains(hint)),
                "{text}: {e:?}"
            );
        }
    }
}
