//! What an answer teaches the ledger: the token it carries (`observe`), what the call did to
//! the tokens its request named (`apply_effects`), and what a run reads back at the end.

use std::time::Instant;

use serde_json::{Map, Value};

use super::fields::{age_by_server, first_answer, reported_lifespan, text, time_field};
use super::store::{Known, RunSide, key};
use super::{Fact, Ledger, Origin, Seen};
use crate::check::Judged;
use crate::duration::Span;
use crate::spec::{Effect, Operation, ResponseDoc, TokenKind};

impl Ledger {
    /// Registers the token a 2xx body carries (as the contract's `x-token` shapes it) and
    /// returns it.
    pub(crate) fn observe(&mut self, x: &Judged<'_>, doc: &ResponseDoc, json: &Value) -> Vec<Seen> {
        let (Some(shape), Some(body)) = (&doc.token, json.as_object()) else {
            return Vec::new();
        };
        let Some(value) = text(body, &shape.value) else {
            return Vec::new();
        };
        let is_new = x.operation.issues() == Some(shape.kind);
        let created_at = time_field(body, shape.created.as_ref());
        let expires_at = time_field(body, shape.expires.as_ref());
        // An access token's parent is the refresh token its request named.
        let parent = match (shape.kind, &x.operation.request_token) {
            (TokenKind::Access, Some(req)) if req.kind == TokenKind::Refresh => {
                text(x.fields, &req.value).map(|v| self.resolve(&v))
            }
            _ => None,
        };
        let origin = if is_new {
            Origin::Issued {
                by_profile: x
                    .fields
                    .values()
                    .any(|v| v.as_str() == Some(self.profile_username.as_str())),
            }
        } else {
            Origin::Seen
        };
        let (lifespan, moved) = (self.lifespans.of(shape.kind), self.moved);
        // A run sees every token it judges issued or lent; traffic shows tokens issued before
        // the proxy started, whose age is what the server's clock says since their creation.
        let age_at_sight = if is_new || self.keeps_values {
            Some(Span::default())
        } else {
            age_by_server(x, created_at)
        };
        let k = key(&value);
        let keeps_values = self.keeps_values;
        let new = || Known {
            kind: shape.kind,
            lifespan,
            reported_lifespan: reported_lifespan(shape, body),
            issued: Instant::now(),
            age_at_sight,
            moved_at_issue: moved,
            revoked: None,
            died: None,
            reported_expired: false,
            parent,
            first: first_answer(shape, body),
            run: keeps_values.then(|| {
                Box::new(RunSide {
                    value: value.clone().into_boxed_str(),
                    successor: None,
                    origin,
                    body: Map::new(),
                    use_current: true,
                })
            }),
        };
        if !self.tokens.contains_key(&k) {
            let known = new();
            self.add(k, known);
        }
        let Some(entry) = self.tokens.get_mut(&k) else {
            return Vec::new();
        };
        if let Some(run) = entry.run.as_mut() {
            run.body = body.clone();
            run.use_current = true;
        }
        let lifespan_from = match shape.kind {
            TokenKind::Refresh => self.lifespans_from.0,
            TokenKind::Access => self.lifespans_from.1,
        };
        vec![Seen {
            kind: shape.kind,
            value,
            is_new,
            lifespan: entry.lifespan,
            lifespan_from,
            created_at,
            expires_at,
        }]
    }

    /// Applies what a successful call of `op` does to the tokens its request names, as the
    /// operation's `x-token-effects` declare; `seen` is what its response carried. A token that
    /// revokes the request's token of its own kind replaces it.
    pub(crate) fn apply_effects(
        &mut self,
        op: &Operation,
        request: &Map<String, Value>,
        seen: &[Seen],
    ) {
        let issued = op.issues();
        // A token another is issued from (an access token minted from a refresh token) has
        // been used: its last use moved, unseen.
        if let Some(req) = op
            .request_token
            .as_ref()
            .filter(|r| issued.is_some_and(|i| i != r.kind))
            && let Some(value) = text(request, &req.value).map(|v| self.resolve(&v))
            && let Some(run) = self.tokens.get_mut(&value).and_then(|k| k.run.as_mut())
        {
            run.use_current = false;
        }
        for effect in &op.effects {
            match effect {
                Effect::Issues(_) => {}
                Effect::Revoke { field, severity } => {
                    let Some(value) = text(request, field).map(|v| self.resolve(&v)) else {
                        continue;
                    };
                    self.revoke(&value, *severity);
                    let kind = self.tokens.get(&value).map(|k| k.kind);
                    let new = seen
                        .iter()
                        .find(|s| s.is_new && Some(s.kind) == kind && issued == kind);
                    if let (Some(new), Some(run)) = (
                        new,
                        self.tokens.get_mut(&value).and_then(|k| k.run.as_mut()),
                    ) {
                        run.successor = Some(key(&new.value));
                    }
                }
                Effect::RevokeAccessTokensOf { field, severity } => {
                    if let Some(value) = text(request, field).map(|v| self.resolve(&v)) {
                        self.revoke_children(&value, *severity);
                    }
                }
            }
        }
    }

    /// The token that finally replaced `value` (itself when none did).
    pub(crate) fn latest(&self, value: &str) -> String {
        let mut current = key(value);
        // A chain longer than the tokens known would be a loop.
        for _ in 0..=self.tokens.len() {
            match self.tokens.get(&current).and_then(Known::successor) {
                Some(next) => current = next,
                None => break,
            }
        }
        self.value_of(&current).unwrap_or_else(|| value.to_owned())
    }

    /// Everything the case learnt about its tokens.
    pub(crate) fn facts(&self) -> Vec<Fact> {
        self.tokens
            .values()
            .filter_map(|k| Some((k.value()?, k)))
            .map(|(value, k)| Fact {
                value,
                kind: k.kind,
                origin: k.origin(),
                revoked: k.revoked,
                parent: k.parent.and_then(|p| self.value_of(&p)),
                successor: k.successor().and_then(|s| self.value_of(&s)),
                body: k.run.as_ref().map(|r| r.body.clone()).unwrap_or_default(),
                issued: k.issued,
            })
            .collect()
    }
}
