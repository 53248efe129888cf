//! What keeps the token page's forms and cookies to the browser that should send them.
//!
//! - **Cookies** are `HttpOnly`, `SameSite=Strict`, and by default `Secure` with the `__Host-`
//!   prefix (so no other host or path can set or shadow them; browsers take them from
//!   `http://localhost` and `http://127.0.0.1` too). `--plain-http-cookies` drops both for a
//!   page served over plain HTTP to other machines, unless a trusted proxy says the request
//!   came over HTTPS.
//! - **Where a form comes from.** A POST whose `Sec-Fetch-Site` is anything but `same-origin`
//!   (or `none`, typed by the user), or, from a browser that does not send that header, whose
//!   `Origin` names another host or is `null`, is refused before anything else. Clients that send neither (curl, the tests) still need the CSRF token.
//! - **Forms before sign-in** carry a token bound to their cookie with an HMAC under a key of
//!   this process: the cookie holds a random nonce, the form its MAC, so a cookie planted by
//!   someone else (a sibling subdomain, a network attacker on plain HTTP) is worth nothing
//!   without the key. After sign-in, the session's own CSRF token is used.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::PAGE;
use super::error::WebError;
use crate::peer::Peer;
use crate::state::AppState;

/// The cookies of the page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Cookie {
    /// The signed-in session.
    Session,
    /// The nonce the pre-sign-in forms are bound to.
    Form,
    /// The browser's device id: once it has signed in to an account, the login throttle
    /// recognises it there from any address (see `throttle/`).
    Device,
}

/// How this request's cookies are named and flagged.
pub(super) struct Cookies {
    secure: bool,
}

impl Cookies {
    /// The policy for a request: secure unless the server was told otherwise and the request
    /// did not come over HTTPS through a trusted proxy.
    pub(super) fn for_request(app: &AppState, peer: Option<Peer>) -> Self {
        Self {
            secure: app.secure_cookies || peer.is_some_and(|p| p.https),
        }
    }

    fn name(&self, c: Cookie) -> &'static str {
        match (c, self.secure) {
            (Cookie::Session, true) => "__Host-tc_session",
            (Cookie::Form, true) => "__Host-tc_form",
            (Cookie::Device, true) => "__Host-tc_device",
            (Cookie::Session, false) => "tc_session",
            (Cookie::Form, false) => "tc_form",
            (Cookie::Device, false) => "tc_device",
        }
    }

    /// The cookie's value in the request, if it is there (and of a sane length).
    pub(super) fn get<'h>(&self, headers: &'h HeaderMap, c: Cookie) -> Option<&'h str> {
        let name = self.name(c);
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v)
            .filter(|v| !v.is_empty() && v.len() <= 128)
    }

    /// A `Set-Cookie` value; `max_age` 0 deletes the cookie.
    pub(super) fn set(&self, c: Cookie, value: &str, max_age: i64) -> HeaderValue {
        let raw = if self.secure {
            // `__Host-` requires `Secure`, `Path=/` and no `Domain`.
            format!(
                "{}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Strict; Secure",
                self.name(c)
            )
        } else {
            format!(
                "{}={value}; Path={PAGE}; Max-Age={max_age}; HttpOnly; SameSite=Strict",
                self.name(c)
            )
        };
        HeaderValue::from_str(&raw).unwrap_or_else(|_| HeaderValue::from_static(""))
    }
}

/// Equal, in time that does not depend on where they differ.
pub(super) fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The form token that goes with a pre-sign-in cookie's nonce.
pub(super) fn form_mac(key: &[u8; 32], nonce: &str) -> String {
    // An HMAC takes a key of any length: this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(b"token-page pre-sign-in form\0");
    mac.update(nonce.as_bytes());
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

/// Refuses a form that a page of another site made the browser send.
pub(super) fn same_origin(headers: &HeaderMap) -> Result<(), WebError> {
    let cross = || {
        WebError::new(
            StatusCode::FORBIDDEN,
            "This form did not come from this page. Open the page and send it from there.",
        )
    };
    // A browser that sends Sec-Fetch-Site has said all there is to say, and no page can forge
    // it. Its Origin may be `null` for a same-origin form (under some referrer policies), so
    // Origin is the judge only for browsers that do not send Sec-Fetch-Site.
    if let Some(site) = headers.get("sec-fetch-site") {
        let site = site.to_str().unwrap_or_default();
        return if matches!(site, "same-origin" | "none") {
            Ok(())
        } else {
            Err(cross())
        };
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("null");
        // The scheme depends on what is in front of the server; the host and port do not
        // (a proxy that rewrites Host passes the original in X-Forwarded-Host).
        let authority = origin.split_once("://").map(|(_, a)| a);
        let host = headers
            .get("x-forwarded-host")
            .or_else(|| headers.get(header::HOST))
            .and_then(|h| h.to_str().ok());
        match (authority, host) {
            (Some(a), Some(h)) if a.eq_ignore_ascii_case(h.trim()) => {}
            _ => return Err(cross()),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn cookies_are_found_among_others_and_bounded() {
        let c = Cookies { secure: true };
        let h = headers(&[(
            "cookie",
            "a=1; __Host-tc_session=abc; tc_session=plain; b=2",
        )]);
        assert_eq!(c.get(&h, Cookie::Session), Some("abc"));
        assert_eq!(c.get(&h, Cookie::Form), None);
        let plain = Cookies { secure: false };
        assert_eq!(plain.get(&h, Cookie::Session), Some("plain"));
        let mut h = HeaderMap::new();
        let long = format!("__Host-tc_session={}", "x".repeat(200));
        h.insert(
            header::COOKIE,
            HeaderValue::from_str(&long).expect("header"),
        );
        assert_eq!(
            c.get(&h, Cookie::Session),
            None,
            "an absurd value is no cookie"
        );
    }

    #[test]
    fn cookies_are_host_only_and_secure_unless_told_otherwise() {
        let secure = Cookies { secure: true }.set(Cookie::Session, "v", 60);
        assert_eq!(
            secure.to_str().expect("ascii"),
            "__Host-tc_session=v; Path=/; Max-Age=60; HttpOnly; SameSite=Strict; Secure"
        );
        let plain = Cookies { secure: false }.set(Cookie::Form, "v", 0);
        assert_eq!(
            plain.to_str().expect("ascii"),
            "tc_form=v; Path=/account/auth; Max-Age=0; HttpOnly; SameSite=Strict"
        );
    }

    #[test]
    fn form_tokens_are_bound_to_their_nonce_and_key() {
        let key = [7u8; 32];
        let t = form_mac(&key, "nonce");
        assert_eq!(t, form_mac(&key, "nonce"));
        assert_ne!(t, form_mac(&key, "other"));
        assert_ne!(t, form_mac(&[8u8; 32], "nonce"));
        assert!(same_secret(&t, &form_mac(&key, "nonce")));
    }

    #[test]
    fn forms_from_other_sites_are_refused() {
        let ok = [
            headers(&[]),
            headers(&[
                ("sec-fetch-site", "same-origin"),
                ("host", "127.0.0.1:8080"),
            ]),
            headers(&[("sec-fetch-site", "none")]),
            // Chromium's same-origin form under `Referrer-Policy: no-referrer`.
            headers(&[
                ("sec-fetch-site", "same-origin"),
                ("origin", "null"),
                ("host", "127.0.0.1:8080"),
            ]),
            headers(&[
                ("origin", "http://127.0.0.1:8080"),
                ("host", "127.0.0.1:8080"),
            ]),
            headers(&[
                ("origin", "https://tokens.example.com"),
                ("host", "10.0.0.5:8080"),
                ("x-forwarded-host", "tokens.example.com"),
            ]),
        ];
        for h in &ok {
            assert!(same_origin(h).is_ok(), "{h:?}");
        }
        let refused = [
            headers(&[("sec-fetch-site", "cross-site")]),
            headers(&[("sec-fetch-site", "same-site")]),
            headers(&[
                ("sec-fetch-site", "cross-site"),
                ("origin", "http://127.0.0.1:8080"),
                ("host", "127.0.0.1:8080"),
            ]),
            headers(&[
                ("origin", "https://evil.example"),
                ("host", "127.0.0.1:8080"),
            ]),
            headers(&[("origin", "null"), ("host", "127.0.0.1:8080")]),
            headers(&[("origin", "http://127.0.0.1:8080")]),
        ];
        for h in &refused {
            assert!(same_origin(h).is_err(), "{h:?}");
        }
        assert!(same_secret("abc", "abc") && !same_secret("abc", "abd") && !same_secret("", "a"));
    }
}
