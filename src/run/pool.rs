//! The run's pool of refresh tokens, so that a run against someone else's deployment creates
//! as few 60-day credentials as it can.
//!
//! Cases that are not about creating tokens borrow one (`borrow_refresh_token`). The pool
//! creates a token only when none is idle, and never holds more than its capacity; cases that
//! create tokens for the profile's user donate the live ones when they end. A token comes back
//! clean: its access tokens revoked, then regenerated, so the next case gets a fresh value and
//! nothing it minted lives on. A token a case killed is dropped, and the pool may make another.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use serde_json::{Map, Value};
use tokio::sync::{Semaphore, SemaphorePermit};

use crate::check::IssuedTokens;
use crate::run::api::Api;
use crate::run::error::ApiError;
use crate::spec::TokenShape;

/// A refresh token the pool holds or lends: its latest token object, and when it was issued.
#[derive(Clone, Debug)]
pub struct Lent {
    /// The token object, as the last response that issued it showed it.
    pub body: Map<String, Value>,
    /// When it was issued (local clock).
    pub issued: Instant,
}

/// Tokens lent to one case, with the right to hold them.
pub struct Loan<'p> {
    _permit: SemaphorePermit<'p>,
    /// The tokens, in the order the case's borrow steps take them.
    pub tokens: Vec<Lent>,
}

/// What became of a token handed back to the pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Returned {
    /// The pool regenerated it and holds the successor: the value handed back is revoked.
    Regenerated,
    /// The pool holds it again as the target says it is now (it could not regenerate it).
    Kept,
    /// The target refuses it, or reports it dead: nothing is left of it.
    Dead,
    /// The pool could neither regenerate nor validate it: it may still be alive, and the run's
    /// account of what it leaves counts it.
    Unknown,
}

impl Returned {
    /// Whether the clean-up need not count it any more: the pool has it, or it is dead.
    pub(crate) fn accounted(self) -> bool {
        self != Self::Unknown
    }
}

/// The pool.
pub struct Pool {
    capacity: usize,
    permits: Semaphore,
    idle: Mutex<Vec<Lent>>,
    /// Tokens the pool holds or lends.
    held: AtomicUsize,
    /// The shape of refresh token objects.
    pub shape: TokenShape,
    /// The name every token the pool creates carries.
    name: String,
}

impl Pool {
    /// A pool of at most `capacity` tokens, named `name`.
    pub fn new(capacity: usize, shape: TokenShape, name: String) -> Self {
        let capacity = capacity.max(1);
        Self {
            capacity,
            permits: Semaphore::new(capacity),
            idle: Mutex::new(Vec::new()),
            held: AtomicUsize::new(0),
            shape,
            name,
        }
    }

    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<Lent>> {
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Lends `n` tokens, waiting while others hold the pool's capacity; creates those it lacks.
    pub(crate) async fn borrow(
        &self,
        api: &Api<'_>,
        issued: &IssuedTokens,
        n: usize,
    ) -> Result<Loan<'_>, ApiError> {
        let want = u32::try_from(n.min(self.capacity)).unwrap_or(1);
        let permit = self
            .permits
            .acquire_many(want)
            .await
            .map_err(|_| ApiError::PoolClosed)?;
        let mut tokens = Vec::new();
        for _ in 0..n {
            let next = self.idle().pop();
            let lent = match next {
                Some(l) => l,
                None => {
                    let body = api.create_refresh_token(&self.name).await?;
                    self.record(&body, issued);
                    self.held.fetch_add(1, Ordering::SeqCst);
                    Lent {
                        body,
                        issued: Instant::now(),
                    }
                }
            };
            tokens.push(lent);
        }
        Ok(Loan {
            _permit: permit,
            tokens,
        })
    }

    fn record(&self, body: &Map<String, Value>, issued: &IssuedTokens) {
        if let Some(Value::String(v)) = body.get(&self.shape.value) {
            issued.record(v, "the run's token pool");
        }
    }

    /// Takes back a live token after a case: revokes its access tokens and regenerates it.
    /// A token that cannot be regenerated goes back with the record the target gives of it
    /// now (a validation), never with the one the case started from: its last use moved when
    /// the case minted from it, and the next borrower would read that as its own refused
    /// request's doing. One the target no longer takes is dropped.
    pub(crate) async fn give_back(
        &self,
        api: &Api<'_>,
        issued: &IssuedTokens,
        token: Lent,
    ) -> Returned {
        let _ = api.revoke_access_tokens(&self.shape, &token.body).await;
        let (clean, returned) = match api.regenerate(&self.shape, &token.body).await {
            Ok(body) => {
                self.record(&body, issued);
                let lent = Lent {
                    body,
                    issued: Instant::now(),
                };
                (Some(lent), Returned::Regenerated)
            }
            Err(_) => match api
                .validate(crate::spec::TokenKind::Refresh, &self.shape, &token.body)
                .await
            {
                Ok(answer) if answer.ok() && self.is_active(api, &answer.body) => {
                    let lent = answer.body.map(|body| Lent {
                        body,
                        issued: token.issued,
                    });
                    let returned = if lent.is_some() {
                        Returned::Kept
                    } else {
                        Returned::Unknown
                    };
                    (lent, returned)
                }
                // Refused, or reported dead (a 200 with REVOKED or EXPIRED, which the contract
                // allows): the target says nothing is left of it.
                Ok(answer) if (400..500).contains(&answer.status) => (None, Returned::Dead),
                Ok(answer) if answer.ok() && answer.body.is_some() => (None, Returned::Dead),
                _ => (None, Returned::Unknown),
            },
        };
        match clean {
            Some(lent) => self.idle().push(lent),
            None => self.drop_dead(),
        }
        returned
    }

    /// Whether a validation's token object says the token is active: its status field holds
    /// the contract's word for it (`x-states`), in any letter case.
    fn is_active(&self, api: &Api<'_>, body: &Option<Map<String, Value>>) -> bool {
        let Some(body) = body else { return false };
        let active = api
            .spec
            .validation(crate::spec::TokenKind::Refresh)
            .and_then(|op| op.responses.values().find_map(|d| d.states.clone()))
            .map(|s| s.active);
        body.contains_key(&self.shape.value)
            && self.shape.status.as_ref().is_none_or(|field| {
                let word = body.get(field).and_then(Value::as_str);
                match (word, &active) {
                    (Some(w), Some(a)) => w.eq_ignore_ascii_case(a),
                    (None, _) => false,
                    (Some(_), None) => true,
                }
            })
    }

    /// Starts the pool with a token the run made itself (the one login that checked the
    /// credentials), so that it is lent rather than left over.
    pub(crate) fn seed(&self, body: Map<String, Value>, issued: &IssuedTokens) {
        self.record(&body, issued);
        self.held.fetch_add(1, Ordering::SeqCst);
        self.idle().push(Lent {
            body,
            issued: Instant::now(),
        });
    }

    /// Takes back a token its case left as it got it (nothing minted, not replaced): it needs
    /// no cleaning, which saves the two requests [`Pool::give_back`] costs.
    pub(crate) fn give_back_untouched(&self, token: Lent) {
        self.idle().push(token);
    }

    /// A lent token that died during its case: the pool may make another.
    pub(crate) fn drop_dead(&self) {
        let _ = self
            .held
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |h| h.checked_sub(1));
    }

    /// Offers a live token a case created for the profile's user; the pool takes it (after
    /// cleaning it) while it holds fewer than its capacity. Returns what became of it, or
    /// `None` when the pool was full and the token stays the case's to leave.
    pub(crate) async fn donate(
        &self,
        api: &Api<'_>,
        issued: &IssuedTokens,
        token: Lent,
    ) -> Option<Returned> {
        let took = self
            .held
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |h| {
                (h < self.capacity).then_some(h + 1)
            })
            .is_ok();
        match took {
            true => Some(self.give_back(api, issued, token).await),
            false => None,
        }
    }

    /// The idle tokens, for the clean-up at the end of the run.
    pub(crate) fn drain(&self) -> Vec<Lent> {
        std::mem::take(&mut *self.idle())
    }

    /// The value of a token object.
    pub fn value<'b>(&self, body: &'b Map<String, Value>) -> Option<&'b str> {
        body.get(&self.shape.value).and_then(Value::as_str)
    }
}
