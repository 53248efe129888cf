//! A client of the control protocol (`specs/conformance-control.openapi.yaml`).

use serde_json::{Value, json};

use crate::run::error::ControlError;
use crate::run::http::Http;
use crate::target::Capability;

/// The control protocol of one target.
#[derive(Clone, Debug)]
pub struct Control {
    http: Http,
    base: String,
}

impl Control {
    /// A client for the protocol at `base` (no trailing slash).
    pub fn new(http: Http, base: String) -> Self {
        Self { http, base }
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, ControlError> {
        let url = format!("{}{path}", self.base);
        let (headers, bytes) = match body {
            Some(b) => (
                vec![("Content-Type".to_owned(), "application/json".to_owned())],
                serde_json::to_vec(&b).expect("a JSON value always serialises"),
            ),
            None => (Vec::new(), Vec::new()),
        };
        // A busy target (503 with Retry-After) is waited out as on the API: a control call
        // refused for load is not a verdict on anything.
        let (x, _) = self
            .http
            .send_patiently(method, &url, &headers, bytes, false)
            .await;
        let resp = x
            .response
            .as_ref()
            .map_err(|e| ControlError::NoAnswer(e.clone()))?;
        let request = format!("{method} {path}");
        if !(200..300).contains(&resp.status) {
            return Err(ControlError::Refused {
                request,
                status: resp.status,
                body: resp.text().chars().take(300).collect(),
            });
        }
        serde_json::from_slice(&resp.body).map_err(|e| ControlError::NotJson {
            request,
            cause: e.to_string(),
        })
    }

    /// The capabilities the target offers; unknown names are ignored.
    pub async fn capabilities(&self) -> Result<Vec<Capability>, ControlError> {
        let v = self.call("GET", "/", None).await?;
        let list = v
            .get("capabilities")
            .and_then(Value::as_array)
            .ok_or_else(|| {
                ControlError::Malformed(
                    "the control protocol's discovery answer has no `capabilities` list".into(),
                )
            })?;
        Ok(list
            .iter()
            .filter_map(Value::as_str)
            .filter_map(Capability::from_name)
            .collect())
    }

    /// The target's clock.
    pub async fn now(&self) -> Result<time::OffsetDateTime, ControlError> {
        let v = self.call("GET", "/clock", None).await?;
        clock_value(&v)
    }

    /// Moves the clock by `seconds`; the target's time after the move.
    pub(crate) async fn advance_to(
        &self,
        seconds: f64,
    ) -> Result<time::OffsetDateTime, ControlError> {
        let v = self.advance(seconds).await?;
        clock_value(&v)
    }

    /// Moves the clock by `seconds`.
    pub async fn advance(&self, seconds: f64) -> Result<Value, ControlError> {
        self.call(
            "POST",
            "/clock/advance",
            Some(json!({ "seconds": seconds })),
        )
        .await
    }

    /// The lifespans in force: `(days, hours)`.
    pub async fn lifespans(&self) -> Result<(u32, u32), ControlError> {
        let v = self.call("GET", "/lifespans", None).await?;
        lifespans_of(&v)
    }

    /// Sets either or both lifespans; returns `(days, hours)` in force after.
    pub(crate) async fn set_lifespans(
        &self,
        days: Option<u32>,
        hours: Option<u32>,
    ) -> Result<(u32, u32), ControlError> {
        let mut body = serde_json::Map::new();
        if let Some(d) = days {
            body.insert("refresh_token_lifespan_days".into(), json!(d));
        }
        if let Some(h) = hours {
            body.insert("access_token_lifespan_hours".into(), json!(h));
        }
        let v = self
            .call("POST", "/lifespans", Some(Value::Object(body)))
            .await?;
        lifespans_of(&v)
    }

    /// Creates (or updates) a user; returns the answer (with `user_id`).
    pub(crate) async fn create_user(
        &self,
        username: &str,
        password: Option<&str>,
        sso: bool,
    ) -> Result<Value, ControlError> {
        let mut body = json!({ "username": username, "sso": sso });
        if let Some(p) = password {
            body["password"] = json!(p);
        }
        self.call("POST", "/users", Some(body)).await
    }

    /// Revokes a refresh token as an administrator.
    pub async fn revoke_refresh_token(&self, token: &str) -> Result<Value, ControlError> {
        self.call(
            "POST",
            "/revokeRefreshToken",
            Some(json!({ "refresh_token": token })),
        )
        .await
    }
}

/// The `now` of a clock answer.
fn clock_value(v: &Value) -> Result<time::OffsetDateTime, ControlError> {
    v.get("now")
        .and_then(Value::as_str)
        .and_then(crate::check::parse_timestamp)
        .ok_or_else(|| {
            ControlError::Malformed(format!(
                "the control protocol's clock answer has no RFC 3339 `now`: {v}"
            ))
        })
}

/// `(days, hours)` of a lifespans answer.
fn lifespans_of(v: &Value) -> Result<(u32, u32), ControlError> {
    let get = |k: &str| {
        v.get(k)
            .and_then(Value::as_u64)
            .and_then(|n| u32::try_from(n).ok())
    };
    match (
        get("refresh_token_lifespan_days"),
        get("access_token_lifespan_hours"),
    ) {
        (Some(d), Some(h)) => Ok((d, h)),
        _ => Err(ControlError::Malformed(format!(
            "the control protocol's lifespans answer lacks a field: {v}"
        ))),
    }
}
