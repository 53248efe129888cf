//! The run's own requests to the API, outside any case: lending refresh tokens to cases,
//! cleaning them between cases, and cleaning up at the end of the run. They are plumbing, not
//! judged; which operation does what comes from the contract's extensions, not from names.

use serde_json::{Map, Value};

use crate::run::error::ApiError;
use crate::run::http::Http;
use crate::spec::{Operation, Spec, TokenKind, TokenShape};
use crate::target::Target;

/// One of the run's own requests, answered.
#[derive(Debug)]
pub struct Answer {
    /// The status.
    pub status: u16,
    /// The body, when it is a JSON object.
    pub body: Option<Map<String, Value>>,
}

impl Answer {
    /// Whether the status is 2xx.
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// Why the login that checks an account's credentials got no token.
#[derive(Debug)]
pub(crate) enum LoginProblem {
    /// Refused (401, 403): the answer, for the message.
    Refused(String),
    /// Nothing at the login's URL speaks the API (404, or a success that is not a JSON
    /// object): what came back.
    NotTheApi(String),
    /// Anything else: the cases will say how.
    Other,
}

/// The run's client of the API.
pub struct Api<'a> {
    /// The contract.
    pub spec: &'a Spec,
    /// The HTTP client.
    pub http: &'a Http,
    /// The target.
    pub target: &'a Target,
}

impl Api<'_> {
    /// Calls `op` with a JSON body.
    pub async fn call(&self, op: &Operation, body: Map<String, Value>) -> Result<Answer, ApiError> {
        let url = format!("{}{}", self.target.base_url, op.path);
        let headers = vec![("Content-Type".to_owned(), "application/json".to_owned())];
        let bytes = serde_json::to_vec(&body).expect("a JSON value always serialises");
        let (x, _) = self
            .http
            .send_patiently(&op.method, &url, &headers, bytes, false)
            .await;
        let resp = x.response.as_ref().map_err(|cause| ApiError::NoAnswer {
            operation: op.id.clone(),
            cause: cause.clone(),
        })?;
        Ok(Answer {
            status: resp.status,
            body: serde_json::from_slice::<Value>(&resp.body)
                .ok()
                .and_then(|v| match v {
                    Value::Object(m) => Some(m),
                    _ => None,
                }),
        })
    }

    /// Logs in as the profile's user and creates a refresh token named `name`.
    pub(crate) async fn create_refresh_token(
        &self,
        name: &str,
    ) -> Result<Map<String, Value>, ApiError> {
        self.login(&self.target.username, self.target.password.expose(), name)
            .await
    }

    /// Logs in once with `username` and `password`, to check them before any case: the new
    /// token object, or what the answer says is wrong.
    pub(crate) async fn check_credentials(
        &self,
        username: &str,
        password: &str,
        name: &str,
    ) -> Result<Map<String, Value>, LoginProblem> {
        let op = self.spec.login().ok_or(LoginProblem::Other)?;
        let login = op.login.as_ref().ok_or(LoginProblem::Other)?;
        let body = Map::from_iter([
            (login.username.clone(), Value::from(username)),
            (login.password.clone(), Value::from(password)),
            (login.name.clone(), Value::from(name)),
        ]);
        let url = format!("{}{}", self.target.base_url, op.path);
        let answer = self.call(op, body).await.map_err(|_| LoginProblem::Other)?;
        let said = || {
            answer
                .body
                .as_ref()
                .and_then(|b| b.get("detail"))
                .and_then(Value::as_str)
                .map(|d| format!(" \"{d}\""))
                .unwrap_or_default()
        };
        match &answer.body {
            Some(body) if answer.ok() => Ok(body.clone()),
            _ if matches!(answer.status, 401 | 403) => Err(LoginProblem::Refused(format!(
                "{} answered {}{}",
                op.id,
                answer.status,
                said()
            ))),
            // Nothing there speaks the API: a wrong path in the base URL, most often.
            None if answer.status == 404 || answer.ok() => Err(LoginProblem::NotTheApi(format!(
                "POST {url} answered {} {}",
                answer.status,
                if answer.ok() {
                    "without a JSON object"
                } else {
                    "(not found)"
                }
            ))),
            _ if answer.status == 404 => Err(LoginProblem::NotTheApi(format!(
                "POST {url} answered 404{}",
                said()
            ))),
            _ => Err(LoginProblem::Other),
        }
    }

    /// Logs in and creates a refresh token named `name`.
    pub async fn login(
        &self,
        username: &str,
        password: &str,
        name: &str,
    ) -> Result<Map<String, Value>, ApiError> {
        let no_login = ApiError::NoOperation("logs in (x-login)");
        let op = self.spec.login().ok_or(no_login)?;
        let login = op
            .login
            .as_ref()
            .ok_or(ApiError::NoOperation("logs in (x-login)"))?;
        let body = Map::from_iter([
            (login.username.clone(), Value::from(username)),
            (login.password.clone(), Value::from(password)),
            (login.name.clone(), Value::from(name)),
        ]);
        let answer = self.call(op, body).await?;
        match answer.body {
            Some(body) if answer.ok() => Ok(body),
            _ => Err(refused(op, &answer)),
        }
    }

    /// The request naming the token in `token` (its value and owner, as `shape` names them),
    /// in the fields `op`'s request takes.
    pub(crate) fn naming(
        op: &Operation,
        shape: &TokenShape,
        token: &Map<String, Value>,
    ) -> Option<Map<String, Value>> {
        let req = op.request_token.as_ref()?;
        let mut body = Map::new();
        body.insert(req.value.clone(), token.get(&shape.value)?.clone());
        if let (Some(from), Some(to)) = (&shape.owner, &req.owner) {
            body.insert(to.clone(), token.get(from)?.clone());
        }
        Some(body)
    }

    /// Revokes the access tokens of a refresh token.
    pub(crate) async fn revoke_access_tokens(
        &self,
        shape: &TokenShape,
        token: &Map<String, Value>,
    ) -> Result<Answer, ApiError> {
        let op = self
            .spec
            .revoke_access_tokens()
            .ok_or(ApiError::NoOperation("revokes access tokens"))?;
        let body = Self::naming(op, shape, token).ok_or(ApiError::TokenLacksFields)?;
        self.call(op, body).await
    }

    /// Regenerates a refresh token; the new token object.
    pub(crate) async fn regenerate(
        &self,
        shape: &TokenShape,
        token: &Map<String, Value>,
    ) -> Result<Map<String, Value>, ApiError> {
        let op = self
            .spec
            .regenerate(TokenKind::Refresh)
            .ok_or(ApiError::NoOperation("regenerates a refresh token"))?;
        let body = Self::naming(op, shape, token).ok_or(ApiError::TokenLacksFields)?;
        let answer = self.call(op, body).await?;
        match answer.body {
            Some(b) if answer.ok() && b.contains_key(&shape.value) => Ok(b),
            _ => Err(refused(op, &answer)),
        }
    }

    /// Validates the token in `token` (a token object of `kind`, as `shape` names its fields).
    pub async fn validate(
        &self,
        kind: TokenKind,
        shape: &TokenShape,
        token: &Map<String, Value>,
    ) -> Result<Answer, ApiError> {
        let op = self
            .spec
            .validation(kind)
            .ok_or(ApiError::NoOperation(match kind {
                TokenKind::Refresh => "validates refresh tokens",
                TokenKind::Access => "validates access tokens",
            }))?;
        let body = Self::naming(op, shape, token).ok_or(ApiError::TokenLacksFields)?;
        self.call(op, body).await
    }

    /// The token object of a live access token (`None` when it is refused).
    pub async fn validate_access(
        &self,
        shape: &TokenShape,
        token: &Map<String, Value>,
    ) -> Result<Option<Map<String, Value>>, ApiError> {
        let answer = self.validate(TokenKind::Access, shape, token).await?;
        let ok = answer.ok();
        Ok(answer.body.filter(|_| ok))
    }
}

/// The error of an answer the run could not use.
fn refused(op: &Operation, answer: &Answer) -> ApiError {
    ApiError::Refused {
        operation: op.id.clone(),
        status: answer.status,
    }
}
