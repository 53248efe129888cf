//! What a run leaves on the target, and the clean-up at its end.
//!
//! Every case hands in what its ledger learnt of its tokens; at the end of the run every
//! access token still alive is revoked (through revokeAPIAccessTokens), and with the control
//! protocol every refresh token the run created is revoked too. What the API cannot revoke is
//! reported, with why and where to revoke it.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, PoisonError};

use serde_json::{Map, Value};

use crate::check::{Fact, Origin};
use crate::run::api::Api;
use crate::run::control::Control;
use crate::run::pool::Pool;
use crate::spec::{Severity, TokenKind};
use crate::target::Capability;

/// Everything the run's cases learnt about the tokens they touched.
#[derive(Default)]
pub struct Inventory {
    facts: Mutex<HashMap<String, Fact>>,
    retired: Mutex<HashSet<String>>,
    /// The retired tokens the pool regenerated (its access tokens should have gone with it).
    regenerated: Mutex<HashSet<String>>,
}

impl Inventory {
    /// Adds what one case learnt; a token seen by several cases keeps its most certain end.
    pub fn add(&self, facts: Vec<Fact>) {
        let mut all = self.facts.lock().unwrap_or_else(PoisonError::into_inner);
        for f in facts {
            match all.get_mut(&f.value) {
                Some(known) => {
                    known.revoked = match (known.revoked, f.revoked) {
                        (Some(a), Some(b)) => Some(a.min(b)),
                        (a, b) => a.or(b),
                    };
                    known.successor = known.successor.take().or(f.successor);
                    if !f.body.is_empty() {
                        known.body = f.body;
                    }
                }
                None => {
                    all.insert(f.value.clone(), f);
                }
            }
        }
    }

    /// A token the run no longer counts as its own to leave: the pool holds it (or its
    /// successor), or the target reported it dead.
    pub(crate) fn retire(&self, value: &str, how: crate::run::pool::Returned) {
        self.retired
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(value.to_owned());
        if how == crate::run::pool::Returned::Regenerated {
            self.regenerated
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(value.to_owned());
        }
    }

    fn snapshot(&self) -> (Vec<Fact>, HashSet<String>, HashSet<String>) {
        let facts = self.facts.lock().unwrap_or_else(PoisonError::into_inner);
        let retired = self.retired.lock().unwrap_or_else(PoisonError::into_inner);
        let regenerated = self
            .regenerated
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        (
            facts.values().cloned().collect(),
            retired.clone(),
            regenerated.clone(),
        )
    }
}

/// What a run left active on the target.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Leftovers {
    /// Refresh tokens still active: the API has no call that revokes one.
    pub refresh_tokens: usize,
    /// Access tokens still active whose refresh token was regenerated: the target did not
    /// revoke them with it (a SHOULD of the contract).
    pub access_tokens: usize,
    /// Access tokens still active whose refresh token the run can no longer use for
    /// anything else (revoked during a case, or refused when the run tried): nothing the API
    /// offers reaches them now, and nothing says the target was wrong to keep them.
    pub access_tokens_unreachable: usize,
    /// Refresh tokens the control protocol revoked at the end.
    pub revoked_by_control: usize,
    /// What went wrong while cleaning up.
    pub problems: Vec<String>,
    /// Where the refresh tokens left active can be revoked (not in the JSON report: the
    /// target's URL is in its `meta`).
    #[serde(skip)]
    pub token_page: TokenPage,
}

/// The prefix every token a run creates is named with: `token-conformance <run id>`.
pub fn name_prefix(run_id: &str) -> String {
    format!("token-conformance {run_id}")
}

/// Where a run's leftovers can be revoked. The API cannot revoke a refresh token; the
/// reference server's token page can, by name, and takes the names in its address
/// (`/account/auth?revoke=PREFIX`). Whether a target is the reference server the harness
/// knows only when it started it (the embedded default).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum TokenPage {
    /// Nothing is known of the target (a report made without a run).
    #[default]
    Unknown,
    /// The reference server this run started, at this base URL.
    ReferenceServer(String),
    /// Another server, at this base URL: its token page is its own.
    Other(String),
}

impl TokenPage {
    /// The page of the target at `base`: the reference server's when the run started it.
    pub fn of(base: &str, embedded: bool) -> Self {
        if embedded {
            Self::ReferenceServer(base.to_owned())
        } else {
            Self::Other(base.to_owned())
        }
    }

    /// The reference server's page at `base`, with the names to revoke filled in.
    fn link(base: &str, prefix: &str) -> String {
        format!(
            "{}/account/auth?{}",
            base.trim_end_matches('/'),
            form_urlencoded::Serializer::new(String::new())
                .append_pair("revoke", prefix)
                .finish()
        )
    }

    /// Where to revoke the tokens named with `prefix`, as the end of a sentence.
    fn whereabouts(&self, prefix: &str) -> String {
        match self {
            Self::ReferenceServer(base) => format!(
                "revoke them at {} (the reference server's token page, the names filled in)",
                Self::link(base, prefix)
            ),
            Self::Other(base) => format!(
                "revoke those whose names start with `{prefix}` in your server's token page \
                 (on the reference server: {})",
                Self::link(base, prefix)
            ),
            Self::Unknown => format!(
                "revoke those whose names start with `{prefix}` in your server's token page \
                 (/account/auth on the reference server)"
            ),
        }
    }
}

impl Leftovers {
    /// The lines reports print, one per kind of token left active.
    pub fn lines(&self, run_id: &str) -> Vec<String> {
        let mut out = Vec::new();
        let plural = |n: usize, one: &str, many: &str| {
            if n == 1 {
                format!("1 {one}")
            } else {
                format!("{n} {many}")
            }
        };
        if self.refresh_tokens > 0 {
            out.push(format!(
                "{} left active: this API cannot revoke a refresh token; {}",
                plural(self.refresh_tokens, "refresh token", "refresh tokens"),
                self.token_page.whereabouts(&name_prefix(run_id))
            ));
        }
        if self.access_tokens > 0 {
            out.push(format!(
                "{} left active: minted from refresh tokens that were regenerated, and the target did not revoke them with it",
                plural(self.access_tokens, "access token", "access tokens")
            ));
        }
        if self.access_tokens_unreachable > 0 {
            out.push(format!(
                "{} left active: minted from refresh tokens the run could no longer use, so revokeAPIAccessTokens cannot reach them; they expire with their lifespan",
                plural(self.access_tokens_unreachable, "access token", "access tokens")
            ));
        }
        out.extend(self.problems.iter().map(|p| format!("clean-up: {p}")));
        out
    }
}

fn is_alive(f: &Fact, retired: &HashSet<String>) -> bool {
    f.revoked.is_none() && f.successor.is_none() && !retired.contains(&f.value)
}

/// The refresh tokens the run created that are still alive, as token objects.
fn live_refresh_tokens(
    facts: &[Fact],
    retired: &HashSet<String>,
    idle: Vec<Map<String, Value>>,
) -> Vec<Map<String, Value>> {
    let mut out: Vec<Map<String, Value>> = facts
        .iter()
        .filter(|f| f.kind == TokenKind::Refresh && f.origin != Origin::Seen)
        .filter(|f| is_alive(f, retired) && !f.body.is_empty())
        .map(|f| f.body.clone())
        .collect();
    out.extend(idle);
    out
}

/// Cleans up after the run: revokes what it can, and counts what is left.
pub(crate) async fn clean_up(
    api: &Api<'_>,
    control: Option<&Control>,
    pool: &Pool,
    inventory: &Inventory,
) -> Leftovers {
    let idle: Vec<Map<String, Value>> = pool.drain().into_iter().map(|l| l.body).collect();
    let (facts, retired, regenerated) = inventory.snapshot();
    let live = live_refresh_tokens(&facts, &retired, idle);
    let mut left = Leftovers::default();
    let admin = control.filter(|_| {
        api.target
            .capabilities
            .contains(&Capability::RevokeRefreshToken)
    });
    let shape = &pool.shape;
    for token in &live {
        let Some(value) = pool.value(token) else {
            continue;
        };
        match admin {
            Some(c) => match c.revoke_refresh_token(value).await {
                Ok(_) => left.revoked_by_control += 1,
                Err(e) => left.problems.push(e.to_string()),
            },
            None => {
                let minted = facts.iter().any(|f| {
                    f.parent.as_deref() == Some(value) && f.revoked != Some(Severity::Must)
                });
                if minted && let Err(e) = api.revoke_access_tokens(shape, token).await {
                    left.problems.push(e.to_string());
                }
                left.refresh_tokens += 1;
            }
        }
    }
    (left.access_tokens, left.access_tokens_unreachable) =
        orphans(api, &facts, &retired, &regenerated).await;
    left
}

/// Access tokens whose refresh token died without surely taking them along: asks the target
/// whether each is still active. Returns those whose refresh token was regenerated (which
/// revokes them as a SHOULD, so the target kept what it should not have), and the others
/// (their refresh token died some other way the run cannot vouch for: no blame).
async fn orphans(
    api: &Api<'_>,
    facts: &[Fact],
    retired: &HashSet<String>,
    regenerated: &HashSet<String>,
) -> (usize, usize) {
    let Some(shape) = api.spec.token_shape(TokenKind::Access) else {
        return (0, 0);
    };
    let dead_parents: HashMap<&str, bool> = facts
        .iter()
        .filter(|f| f.kind == TokenKind::Refresh && !is_alive(f, retired))
        .map(|f| {
            let regenerated = f.successor.is_some() || regenerated.contains(&f.value);
            (f.value.as_str(), regenerated)
        })
        .collect();
    let (mut kept, mut unreachable) = (0, 0);
    for f in facts.iter().filter(|f| f.kind == TokenKind::Access) {
        let Some(regenerated) = f.parent.as_deref().and_then(|p| dead_parents.get(p)) else {
            continue;
        };
        if f.revoked != Some(Severity::Must)
            && !f.body.is_empty()
            && let Ok(Some(_)) = api.validate_access(shape, &f.body).await
        {
            if *regenerated {
                kept += 1;
            } else {
                unreachable += 1;
            }
        }
    }
    (kept, unreachable)
}

#[cfg(test)]
mod tests {
    use super::{Leftovers, TokenPage};

    fn line(page: TokenPage) -> String {
        let left = Leftovers {
            refresh_tokens: 3,
            token_page: page,
            ..Leftovers::default()
        };
        left.lines("tc0123abcd").remove(0)
    }

    #[test]
    fn the_leftovers_line_links_the_page_with_the_runs_prefix() {
        assert_eq!(
            line(TokenPage::ReferenceServer("http://127.0.0.1:8080/".into())),
            "3 refresh tokens left active: this API cannot revoke a refresh token; revoke them at \
             http://127.0.0.1:8080/account/auth?revoke=token-conformance+tc0123abcd (the \
             reference server's token page, the names filled in)"
        );
        let other = line(TokenPage::Other("https://staging.example.com".into()));
        assert!(
            other.contains(
                "revoke those whose names start with `token-conformance tc0123abcd` in your \
                 server's token page (on the reference server: \
                 https://staging.example.com/account/auth?revoke=token-conformance+tc0123abcd)"
            ),
            "{other}"
        );
        assert!(line(TokenPage::Unknown).contains("in your server's token page"));
    }
}
