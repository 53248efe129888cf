//! The token page at `/account/auth` and Swagger UI, over HTTP requests as a browser sends
//! them (in-process): sessions and their cookie flags, CSRF, the headers, one-time links,
//! sign-out, and the page's token actions with the API's semantics.

use crate::common;

use std::collections::BTreeMap;

use common::{Enc, Harness, PASSWORD, Reply, SSO_USER, USER, access_fields, refresh_fields};
use reference_server::store::FeatureFlag;
use serde_json::{Value, json};

/// A browser: a cookie jar in front of the harness.
struct Browser<'h> {
    h: &'h Harness,
    cookies: BTreeMap<String, String>,
    /// Extra headers on every request (a proxy's `X-Forwarded-Proto`).
    extra: Vec<(&'static str, &'static str)>,
}

impl<'h> Browser<'h> {
    fn new(h: &'h Harness) -> Self {
        Self {
            h,
            cookies: BTreeMap::new(),
            extra: Vec::new(),
        }
    }

    async fn request(&mut self, method: &str, path: &str, form: &[(&str, &str)]) -> Reply {
        let cookie = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let mut headers = self.extra.clone();
        if !cookie.is_empty() {
            headers.push(("Cookie", &cookie));
        }
        let body = if method == "POST" {
            headers.push(("Content-Type", "application/x-www-form-urlencoded"));
            let mut s = form_urlencoded::Serializer::new(String::new());
            for (k, v) in form {
                s.append_pair(k, v);
            }
            s.finish().into_bytes()
        } else {
            Vec::new()
        };
        let r = self.h.exchange(method, path, &headers, body).await;
        for set in set_cookies(&r) {
            let (pair, _) = set.split_once(';').unwrap_or((&set, ""));
            let (k, v) = pair.split_once('=').expect("name=value");
            if set.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_owned(), v.to_owned());
            }
        }
        r
    }

    async fn get(&mut self, path: &str) -> Reply {
        self.request("GET", path, &[]).await
    }

    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Reply {
        self.request("POST", path, form).await
    }

    /// Opens the page and sends its sign-in form; the answer, whatever it is.
    async fn try_sign_in(&mut self, username: &str, password: &str) -> Reply {
        let page = self.get("/account/auth").await;
        let form = hidden(&page.text, "form");
        self.post(
            "/account/auth/sign-in",
            &[
                ("form", &form),
                ("username", username),
                ("password", password),
            ],
        )
        .await
    }

    /// Signs in with a password through the page; returns the tokens page.
    async fn sign_in(&mut self, username: &str, password: &str) -> Reply {
        let r = self.try_sign_in(username, password).await;
        assert_eq!(r.status, 303, "{}", r.text);
        assert_eq!(r.header("location"), Some("/account/auth"));
        let page = self.get("/account/auth").await;
        assert!(page.text.contains("Signed in as"), "{}", page.text);
        page
    }
}

fn set_cookies(r: &Reply) -> Vec<String> {
    r.headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().expect("ascii").to_owned())
        .collect()
}

/// The value of the hidden field `name` (the first one).
fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no field {name} in {html}"))
        + marker.len();
    html[start..].split('"').next().expect("value").to_owned()
}

/// The value shown once after creating or regenerating, and the user id beside it.
fn new_token(html: &str) -> (String, i64) {
    let marker = "id=\"new-token\" type=\"text\" value=\"";
    let start = html
        .find(marker)
        .unwrap_or_else(|| panic!("no new token in {html}"))
        + marker.len();
    let value = html[start..].split('"').next().expect("value").to_owned();
    let marker = "id=\"new-token-user\">";
    let start = html.find(marker).expect("user id") + marker.len();
    let user = html[start..]
        .split('<')
        .next()
        .expect("id")
        .parse()
        .expect("number");
    (value, user)
}

/// The row id of the token named `name` on the page.
fn row_id(html: &str, name: &str) -> String {
    let cell =
        format!("<td data-label=\"Name\" class=\"name\"><span title=\"{name}\">{name}</span></td>");
    let at = html
        .find(&cell)
        .unwrap_or_else(|| panic!("no row {name} in {html}"));
    let marker = "data-token-id=\"";
    let start = html[..at].rfind(marker).expect("row") + marker.len();
    html[start..].split('"').next().expect("id").to_owned()
}

fn refresh(value: &str, user_id: i64) -> Value {
    json!({"refresh_token": value, "user_id": user_id})
}

/// Signs in through the page and returns the cookies the form and the sign-in set.
async fn sign_in_cookies(b: &mut Browser<'_>) -> (String, String) {
    let page = b.get("/account/auth").await;
    assert_eq!(page.status, 200, "{}", page.text);
    let form_cookie = set_cookies(&page).join("\n");
    let form = hidden(&page.text, "form");
    let r = b
        .post(
            "/account/auth/sign-in",
            &[("form", &form), ("username", USER), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    let session = set_cookies(&r)
        .into_iter()
        .find(|c| c.contains("tc_session=") && !c.contains("Max-Age=0"))
        .expect("a session cookie");
    (form_cookie, session)
}

#[tokio::test]
async fn sign_in_sets_host_only_secure_strict_http_only_cookies() {
    let h = Harness::in_process().await;
    let mut b = Browser::new(&h);
    let page = b.get("/account/auth").await;
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert!(
        page.text.contains("<label for=\"username\">"),
        "labelled fields"
    );
    let (form_cookie, session) = sign_in_cookies(&mut Browser::new(&h)).await;
    assert!(form_cookie.starts_with("__Host-tc_form="), "{form_cookie}");
    assert!(session.starts_with("__Host-tc_session="), "{session}");
    for cookie in [&form_cookie, &session] {
        for flag in ["HttpOnly", "SameSite=Strict", "Path=/;", "; Secure"] {
            assert!(cookie.contains(flag), "{flag}: {cookie}");
        }
        assert!(!cookie.contains("Domain"), "{cookie}");
    }
    assert!(session.contains("Max-Age=28800"), "{session}");
    let page = b.get("/account/auth").await;
    assert!(
        page.text.contains("Sign in"),
        "a new browser is not signed in"
    );
}

#[tokio::test]
async fn plain_http_cookies_are_secure_only_behind_a_trusted_proxy_that_says_https() {
    let h = Harness::in_process_with(|c| c.plain_http_cookies = true).await;
    let (form_cookie, session) = sign_in_cookies(&mut Browser::new(&h)).await;
    assert!(form_cookie.starts_with("tc_form="), "{form_cookie}");
    assert!(session.starts_with("tc_session="), "{session}");
    for cookie in [&form_cookie, &session] {
        assert!(cookie.contains("Path=/account/auth"), "{cookie}");
        assert!(!cookie.contains("Secure"), "{cookie}");
    }

    // Over a socket: X-Forwarded-Proto counts only from a trusted proxy.
    for (trusted, secure) in [(false, false), (true, true)] {
        let h = Harness::start_with(|c| {
            c.plain_http_cookies = true;
            if trusted {
                c.trusted_proxies = vec!["127.0.0.1/32".parse().expect("cidr")];
            }
        })
        .await;
        let mut b = Browser::new(&h);
        b.extra.push(("X-Forwarded-Proto", "https"));
        let (_, session) = sign_in_cookies(&mut b).await;
        assert_eq!(session.starts_with("__Host-"), secure, "{session}");
        assert_eq!(session.ends_with("; Secure"), secure, "{session}");
    }
}

#[tokio::test]
async fn every_page_and_asset_carries_the_security_headers() {
    let h = Harness::in_process().await;
    let mut b = Browser::new(&h);
    let signed_out = b.get("/account/auth").await;
    let css = b.get("/account/auth/style.css").await;
    let js = b.get("/account/auth/copy.js").await;
    let refused = b.post("/account/auth/sign-in", &[("username", USER)]).await;
    let signed_in = b.sign_in(USER, PASSWORD).await;
    assert_eq!(css.header("content-type"), Some("text/css; charset=utf-8"));
    assert_eq!(
        js.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    for r in [&signed_out, &css, &js, &refused, &signed_in] {
        let csp = r.header("content-security-policy").expect("CSP");
        assert!(csp.contains("script-src 'self'"), "{csp}");
        assert!(!csp.contains("unsafe-inline"), "{csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert_eq!(r.header("x-frame-options"), Some("DENY"));
        assert_eq!(r.header("referrer-policy"), Some("same-origin"));
        assert_eq!(r.header("cache-control"), Some("no-store"));
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    }
    for page in [&signed_out.text, &signed_in.text] {
        assert!(!page.contains("<script>"), "no inline script");
        assert!(!page.contains("style="), "no inline style");
        assert!(page.contains("name=\"viewport\""), "phone width");
    }
}

/// The policy layer's own refusals (here a 413, before any handler) carry the page's headers
/// on the page's paths, and `nosniff` everywhere, the API's JSON included.
#[tokio::test]
async fn refusals_before_the_handler_carry_the_security_headers_too() {
    let h = Harness::in_process().await;
    let big = vec![b'a'; 64 * 1024];
    let form = "application/x-www-form-urlencoded";
    let page = h
        .raw("POST", "/account/auth/sign-in", Some(form), big.clone())
        .await;
    assert_eq!(page.status, 413);
    let csp = page.header("content-security-policy").expect("CSP");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(page.header("x-frame-options"), Some("DENY"));
    assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
    let api = h
        .raw(
            "POST",
            "/integration/v1/createRefreshToken/",
            Some(form),
            big,
        )
        .await;
    assert_eq!(api.status, 413);
    assert_eq!(api.header("x-content-type-options"), Some("nosniff"));
    let answer = h
        .raw(
            "POST",
            "/integration/v1/validateAPIAccessToken/",
            Some(form),
            b"api_access_token=x&user_id=1".to_vec(),
        )
        .await;
    assert_eq!(answer.status, 401);
    assert_eq!(answer.header("x-content-type-options"), Some("nosniff"));
}

#[tokio::test]
async fn forms_without_their_csrf_token_are_refused_and_change_nothing() {
    let h = Harness::in_process().await;
    let mut b = Browser::new(&h);
    b.get("/account/auth").await;
    for form in [vec![], vec![("form", "forged")]] {
        let mut fields = form.clone();
        fields.extend([("username", USER), ("password", PASSWORD)]);
        let r = b.post("/account/auth/sign-in", &fields).await;
        assert_eq!(r.status, 403, "sign-in with {form:?}: {}", r.text);
        assert!(set_cookies(&r).iter().all(|c| !c.contains("tc_session")));
    }
    let page = b.sign_in(USER, PASSWORD).await;
    let csrf = hidden(&page.text, "csrf");
    for form in [
        vec![],
        vec![("csrf", "forged")],
        vec![("csrf", &csrf[..csrf.len() - 1])],
    ] {
        let mut fields = form.clone();
        fields.push(("name", "forged"));
        let r = b.post("/account/auth/tokens", &fields).await;
        assert_eq!(r.status, 403, "create with {form:?}: {}", r.text);
        let r = b.post("/account/auth/sign-out", &form).await;
        assert_eq!(r.status, 403, "sign-out with {form:?}");
    }
    let page = b.get("/account/auth").await;
    assert!(!page.text.contains(">forged<"), "nothing was created");
    assert!(
        page.text.contains("Signed in as"),
        "and nobody was signed out"
    );
}

#[tokio::test]
async fn a_planted_form_cookie_is_worth_nothing_without_the_servers_key() {
    let h = Harness::in_process().await;
    let mut b = Browser::new(&h);
    // What a double-submit check would accept: the cookie and the field are equal.
    b.cookies
        .insert("__Host-tc_form".into(), "planted-by-attacker".into());
    let r = b
        .post(
            "/account/auth/sign-in",
            &[
                ("form", "planted-by-attacker"),
                ("username", USER),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.text);
    // The page gives this browser a token for its cookie, and that one works.
    b.sign_in(USER, PASSWORD).await;
}

#[tokio::test]
async fn forms_sent_from_another_site_are_refused() {
    let h = Harness::in_process().await;
    let mut b = Browser::new(&h);
    let page = b.get("/account/auth").await;
    let form = hidden(&page.text, "form");
    let fields = [
        ("form", form.as_str()),
        ("username", USER),
        ("password", PASSWORD),
    ];
    for header in [
        ("Origin", "https://evil.example"),
        ("Origin", "null"),
        ("Sec-Fetch-Site", "cross-site"),
        ("Sec-Fetch-Site", "same-site"),
    ] {
        b.extra = vec![header, ("Host", "127.0.0.1:8080")];
        let r = b.post("/account/auth/sign-in", &fields).await;
        assert_eq!(r.status, 403, "{header:?}: {}", r.text);
        assert!(set_cookies(&r).iter().all(|c| !c.contains("tc_session")));
    }
    // The page's own origin is fine.
    b.extra = vec![
        ("Origin", "http://127.0.0.1:8080"),
        ("Host", "127.0.0.1:8080"),
        ("Sec-Fetch-Site", "same-origin"),
    ];
    let r = b.post("/account/auth/sign-in", &fields).await;
    assert_eq!(r.status, 303, "{}", r.text);
    // And so are signed-in forms, checked the same way.
    let page = b.get("/account/auth").await;
    let csrf = hidden(&page.text, "csrf");
    b.extra = vec![("Sec-Fetch-Site", "cross-site")];
    let r = b
        .post(
            "/account/auth/tokens",
            &[("csrf", &csrf), ("name", "cross")],
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.text);
}

#[tokio::test]
async fn a_session_ends_after_half_an_hour_idle_and_eight_hours_at_most() {
    let h = Harness::in_process().await;
    let mut b = Browser::new(&h);
    b.sign_in(USER, PASSWORD).await;
    let advance = |minutes: i64| {
        let h = &h;
        async move {
            let r = h
                .control("clock/advance", json!({"seconds": minutes * 60}))
                .await;
            assert_eq!(r.status, 200, "{}", r.text);
        }
    };
    // Every request keeps it alive for another half hour...
    for _ in 0..3 {
        advance(25).await;
        let page = b.get("/account/auth").await;
        assert!(page.text.contains("Signed in as"), "active use keeps it");
    }
    // ...until half an hour passes without one.
    advance(31).await;
    let page = b.get("/account/auth").await;
    assert!(!page.text.contains("Signed in as"), "idle: {}", page.text);

    // And never past eight hours, however busy.
    b.sign_in(USER, PASSWORD).await;
    for _ in 0..20 {
        advance(25).await;
        b.get("/account/auth").await;
    }
    let page = b.get("/account/auth").await;
    assert!(!page.text.contains("Signed in as"), "8h 20m after sign-in");
}

#[tokio::test]
async fn a_password_sign_in_ends_the_accounts_other_sessions() {
    let h = Harness::in_process().await;
    let mut first = Browser::new(&h);
    first.sign_in(USER, PASSWORD).await;
    let mut second = Browser::new(&h);
    second.sign_in(USER, PASSWORD).await;
    let page = first.get("/account/auth").await;
    assert!(
        !page.text.contains("Signed in as"),
        "the older session ended"
    );
    let page = second.get("/account/auth").await;
    assert!(page.text.contains("Signed in as"));
}

#[tokio::test]
async fn a_form_in_a_type_the_page_does_not_read_is_415() {
    let h = Harness::in_process().await;
    let r = h
        .exchange(
            "POST",
            "/account/auth/sign-in",
            &[("Content-Type", "text/plain")],
            b"username=a".to_vec(),
        )
        .await;
    assert_eq!(r.status, 415, "{}", r.text);
    assert!(r.text.contains("<html"), "a page: {}", r.text);
}

#[tokio::test]
async fn a_token_created_on_the_page_is_shown_once_and_works_through_the_api() {
    let h = Harness::in_process().await;
    let mut b = Browser::new(&h);
    let page = b.sign_in(USER, PASSWORD).await;
    let csrf = hidden(&page.text, "csrf");
    let r = b
        .post(
            "/account/auth/tokens",
            &[("csrf", &csrf), ("name", "from the page")],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let (value, user_id) = new_token(&r.text);
    let t = refresh(&value, user_id);
    let a = h.mint(&t).await;
    assert_eq!(
        h.call("validateAPIAccessToken", Enc::Json, &access_fields(&a))
            .await
            .status,
        200
    );
    let page = b.get("/account/auth").await;
    assert!(!page.text.contains(&value), "shown once only");
    assert!(page.text.contains("from the page"));
    assert!(page.text.contains(">ACTIVE<"), "the API's words");
    // A blank name is refused like the API refuses it, and creates nothing.
    let r = b
        .post("/account/auth/tokens", &[("csrf", &csrf), ("name", " ")])
        .await;
    assert_eq!(r.status, 400);
    assert!(
        r.text.contains("Missing required field(s): name."),
        "{}",
        r.text
    );
}

#[tokio::test]
async fn revoking_and_regenerating_on_the_page_have_the_api_semantics() {
    let h = Harness::in_process().await;
    let revoked = h.login("to revoke").await;
    let revoked_access = h.mint(&revoked).await;
    let regenerated = h.login("to regenerate").await;
    let regenerated_access = h.mint(&regenerated).await;
    let mut b = Browser::new(&h);
    let page = b.sign_in(USER, PASSWORD).await;
    let csrf = hidden(&page.text, "csrf");

    let id = row_id(&page.text, "to revoke");
    let r = b
        .post(
            "/account/auth/tokens/revoke",
            &[("csrf", &csrf), ("token_id", &id)],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    h.call("validateRefreshToken", Enc::Json, &refresh_fields(&revoked))
        .await
        .assert_error(401, "Refresh token provided is expired or revoked.");
    h.call(
        "validateAPIAccessToken",
        Enc::Json,
        &access_fields(&revoked_access),
    )
    .await
    .assert_error(401, "API Access Token provided is expired or revoked.");
    let again = b
        .post(
            "/account/auth/tokens/revoke",
            &[("csrf", &csrf), ("token_id", &id)],
        )
        .await;
    assert_eq!(again.status, 409);
    let r = b
        .post(
            "/account/auth/tokens/regenerate",
            &[("csrf", &csrf), ("token_id", &id)],
        )
        .await;
    assert_eq!(r.status, 409, "a revoked token is not regenerated");

    let page = b.get("/account/auth").await;
    assert!(page.text.contains(">REVOKED<"), "the page shows it");
    let id = row_id(&page.text, "to regenerate");
    let r = b
        .post(
            "/account/auth/tokens/regenerate",
            &[("csrf", &csrf), ("token_id", &id)],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let (value, user_id) = new_token(&r.text);
    let v = h
        .call(
            "validateRefreshToken",
            Enc::Json,
            &refresh_fields(&refresh(&value, user_id)),
        )
        .await;
    assert_eq!(
        (v.status, v.json["name"].as_str()),
        (200, Some("to regenerate"))
    );
    h.call(
        "validateRefreshToken",
        Enc::Json,
        &refresh_fields(&regenerated),
    )
    .await
    .assert_error(401, "Refresh token provided is expired or revoked.");
    h.call(
        "validateAPIAccessToken",
        Enc::Json,
        &access_fields(&regenerated_access),
    )
    .await
    .assert_error(401, "API Access Token provided is expired or revoked.");
}

#[tokio::test]
async fn a_user_can_act_only_on_their_own_tokens() {
    let h = Harness::in_process().await;
    let theirs = h.login("someone else's").await;
    let mut b = Browser::new(&h);
    let page = b.sign_in(USER, PASSWORD).await;
    let id = row_id(&page.text, "someone else&#39;s");
    // Another user, signed in through a one-time link.
    let store = &h.state.as_ref().expect("in-process").store;
    let sso = store
        .read(|r| r.find_user(SSO_USER))
        .expect("db")
        .expect("the SSO user");
    let link = link_for(&h, sso.id).await;
    let mut other = Browser::new(&h);
    let page = other.get(&format!("/account/auth/sso?link={link}")).await;
    let form = hidden(&page.text, "form");
    other
        .post("/account/auth/sso", &[("form", &form), ("link", &link)])
        .await;
    let page = other.get("/account/auth").await;
    let csrf = hidden(&page.text, "csrf");
    for action in ["revoke", "regenerate"] {
        let r = other
            .post(
                &format!("/account/auth/tokens/{action}"),
                &[("csrf", &csrf), ("token_id", &id)],
            )
            .await;
        assert_eq!(r.status, 404, "{action}: {}", r.text);
    }
    assert_eq!(
        h.call("validateRefreshToken", Enc::Json, &refresh_fields(&theirs))
            .await
            .status,
        200
    );
}

async fn link_for(h: &Harness, user_id: i64) -> String {
    let state = std::sync::Arc::clone(h.state.as_ref().expect("in-process"));
    tokio::task::spawn_blocking(move || reference_server::sign_in_link::new(&state.store, user_id))
        .await
        .expect("task")
        .expect("link")
}

#[tokio::test]
async fn a_sign_in_link_works_once_and_not_after_ten_minutes() {
    let h = Harness::in_process().await;
    let store = &h.state.as_ref().expect("in-process").store;
    let sso = store
        .read(|r| r.find_user(SSO_USER))
        .expect("db")
        .expect("the SSO user");
    // SSO users have no password here.
    let mut b = Browser::new(&h);
    let r = b.try_sign_in(SSO_USER, "x").await;
    assert_eq!(r.status, 403);
    assert!(r.text.contains("signs in through SSO"), "{}", r.text);

    let link = link_for(&h, sso.id).await;
    let page = b.get(&format!("/account/auth/sso?link={link}")).await;
    assert_eq!(page.status, 200, "opening the link does not use it");
    assert!(page.text.contains(SSO_USER));
    let form = hidden(&page.text, "form");
    let r = b
        .post("/account/auth/sso", &[("form", &form), ("link", &link)])
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    assert!(b.get("/account/auth").await.text.contains(SSO_USER));
    // Twice: refused, however it is tried.
    let mut again = Browser::new(&h);
    assert_eq!(
        again
            .get(&format!("/account/auth/sso?link={link}"))
            .await
            .status,
        400
    );
    let page = again.get("/account/auth").await;
    let form = hidden(&page.text, "form");
    let r = again
        .post("/account/auth/sso", &[("form", &form), ("link", &link)])
        .await;
    assert_eq!(r.status, 400);
    assert!(set_cookies(&r).iter().all(|c| !c.contains("tc_session")));

    // Expired: made eleven minutes ago.
    let secret = "an-expired-link-made-for-this-test";
    let digest = reference_server::token::digest(secret);
    let made = time::OffsetDateTime::now_utc() - time::Duration::minutes(11);
    let uid = sso.id;
    store
        .write(move |tx| {
            tx.create_sign_in_link(
                &digest,
                uid,
                made,
                made + reference_server::sign_in_link::LIFETIME,
            )
        })
        .await
        .expect("link");
    let r = again.get(&format!("/account/auth/sso?link={secret}")).await;
    assert_eq!(r.status, 400);
    assert!(r.text.contains("expired"), "{}", r.text);
}

#[tokio::test]
async fn a_signed_out_session_replayed_signs_no_one_in() {
    let h = Harness::in_process().await;
    let mut b = Browser::new(&h);
    let page = b.sign_in(USER, PASSWORD).await;
    let csrf = hidden(&page.text, "csrf");
    let stolen = b.cookies.clone();
    let r = b.post("/account/auth/sign-out", &[("csrf", &csrf)]).await;
    assert_eq!(r.status, 303);
    assert!(
        set_cookies(&r)
            .iter()
            .any(|c| c.starts_with("__Host-tc_session=;") && c.contains("Max-Age=0"))
    );
    let mut replay = Browser::new(&h);
    replay.cookies = stolen;
    let page = replay.get("/account/auth").await;
    assert!(!page.text.contains("Signed in as"), "{}", page.text);
    let r = replay
        .post(
            "/account/auth/tokens",
            &[("csrf", &csrf), ("name", "replayed")],
        )
        .await;
    assert_eq!(r.status, 401, "{}", r.text);
    assert_eq!(
        h.login_reply("check").await.status,
        201,
        "the account is fine"
    );
}

#[tokio::test]
async fn failed_sign_ins_count_in_the_api_throttle() {
    let h = Harness::in_process().await;
    let mut b = Browser::new(&h);
    for _ in 0..reference_server::DEFAULT_MAX_FAILED_LOGINS {
        let r = b.try_sign_in(USER, "wrong").await;
        assert_eq!(r.status, 401);
        assert!(r.text.contains("Invalid username or password."));
    }
    let r = b.try_sign_in(USER, PASSWORD).await;
    assert_eq!(r.status, 429, "locked, right password or not");
    assert!(r.header("retry-after").is_some());
    let api = h.login_reply("n").await;
    assert_eq!(api.status, 429, "the API shares the lock");
    // An unknown user gets the same answer as a wrong password.
    let r = b.try_sign_in("nobody@example.com", "x").await;
    assert_eq!(r.status, 401);
    assert!(r.text.contains("Invalid username or password."));
}

#[tokio::test]
async fn swagger_ui_is_off_until_the_flag_turns_it_on() {
    let h = Harness::in_process().await;
    let ui = "/openapi/api_authentication/ui/";
    let r = h.raw("GET", ui, None, Vec::new()).await;
    r.assert_error(404, "Not found.");
    let store = &h.state.as_ref().expect("in-process").store;
    store
        .write(|tx| tx.set_feature_flag(FeatureFlag::EnableSwagger, true))
        .await
        .expect("flag");
    let r = h.raw("GET", ui, None, Vec::new()).await;
    assert_eq!(r.status, 200);
    assert!(r.text.contains("swagger-ui-bundle.js"));
    assert!(!r.text.contains("<script>"), "no inline script");
    let csp = r.header("content-security-policy").expect("CSP");
    assert!(csp.contains("script-src 'self';"), "{csp}");
    assert_eq!(r.header("x-frame-options"), Some("DENY"));
    for (asset, kind) in [
        ("swagger-ui-bundle.js", "javascript"),
        ("swagger-ui.css", "css"),
        ("swagger-init.js", "javascript"),
        ("openapi.yaml", "yaml"),
    ] {
        let r = h
            .raw("GET", &format!("{ui}{asset}"), None, Vec::new())
            .await;
        assert_eq!(r.status, 200, "{asset}");
        assert!(
            r.header("content-type").unwrap_or_default().contains(kind),
            "{asset}"
        );
    }
    let spec = h
        .raw("GET", &format!("{ui}openapi.yaml"), None, Vec::new())
        .await;
    assert!(
        spec.text.contains("servers:\n  - url: /\n"),
        "Try it out goes to this server"
    );
    for op in [
        "createRefreshToken",
        "validateRefreshToken",
        "regenRefreshToken",
        "createAPIAccessToken",
        "validateAPIAccessToken",
        "revokeAPIAccessTokens",
    ] {
        assert!(spec.text.contains(&format!("operationId: {op}")), "{op}");
    }
    store
        .write(|tx| tx.set_feature_flag(FeatureFlag::EnableSwagger, false))
        .await
        .expect("flag");
    assert_eq!(
        h.raw("GET", ui, None, Vec::new()).await.status,
        404,
        "off again"
    );
}

/// A test run's leftovers, revoked at once by the start of their names: the page asks first,
/// with the count, and revokes only on the confirmation, only the tokens so named, their
/// access tokens with them.
#[tokio::test]
async fn tokens_named_alike_are_revoked_at_once_after_a_confirmation() {
    let h = Harness::in_process().await;
    let first = h.login("token-conformance tc0123abcd pool").await;
    let first_access = h.mint(&first).await;
    let second = h
        .login("token-conformance tc0123abcd refresh-token.create")
        .await;
    let kept = h.login("token-conformance tc9999 other run").await;
    let mut b = Browser::new(&h);
    let page = b.sign_in(USER, PASSWORD).await;
    let csrf = hidden(&page.text, "csrf");
    let prefix = "token-conformance tc0123abcd";
    let ask = b
        .post(
            "/account/auth/tokens/revoke-named",
            &[("csrf", &csrf), ("prefix", prefix)],
        )
        .await;
    assert_eq!(ask.status, 200, "{}", ask.text);
    assert!(
        ask.text.contains("Revoke <strong>2</strong> token(s)"),
        "{}",
        ask.text
    );
    let alive = h
        .call("validateRefreshToken", Enc::Json, &refresh_fields(&first))
        .await;
    assert_eq!(alive.status, 200, "{}", alive.text);
    let done = b
        .post(
            "/account/auth/tokens/revoke-named",
            &[("csrf", &csrf), ("prefix", prefix), ("confirm", "yes")],
        )
        .await;
    assert_eq!(done.status, 200, "{}", done.text);
    assert!(done.text.contains("Revoked 2 token(s)"), "{}", done.text);
    for gone in [&first, &second] {
        h.call("validateRefreshToken", Enc::Json, &refresh_fields(gone))
            .await
            .assert_error(401, "Refresh token provided is expired or revoked.");
    }
    h.call(
        "validateAPIAccessToken",
        Enc::Json,
        &access_fields(&first_access),
    )
    .await
    .assert_error(401, "API Access Token provided is expired or revoked.");
    let alive = h
        .call("validateRefreshToken", Enc::Json, &refresh_fields(&kept))
        .await;
    assert_eq!(alive.status, 200, "{}", alive.text);
    // Without the form's CSRF token, nothing.
    let forged = b
        .post(
            "/account/auth/tokens/revoke-named",
            &[("prefix", "token-conformance"), ("confirm", "yes")],
        )
        .await;
    assert_eq!(forged.status, 403);
    let alive = h
        .call("validateRefreshToken", Enc::Json, &refresh_fields(&kept))
        .await;
    assert_eq!(alive.status, 200, "{}", alive.text);
}

/// Past 100 failures on the account from elsewhere, a browser that signed in before (its
/// device cookie) still signs in from a new address; one without it is refused there.
#[tokio::test]
async fn a_browser_that_signed_in_before_gets_in_from_a_new_address_under_attack() {
    let ip = |net: u8, host: u8| std::net::IpAddr::from([127, 0, net, host]);
    let mut h = Harness::start().await;
    h.http = common::client_from(ip(40, 1));
    let mut jar = {
        let mut b = Browser::new(&h);
        b.sign_in(USER, PASSWORD).await;
        b.cookies
    };
    assert!(jar.keys().any(|k| k.ends_with("tc_device")), "{jar:?}");
    jar.retain(|k, _| k.ends_with("tc_device"));
    let failures = (1..=10).map(|host| {
        let (http, base) = (common::client_from(ip(41, host)), h.base.clone());
        async move {
            for _ in 0..10 {
                let r = http
                    .post(format!("{base}/integration/v1/createRefreshToken/"))
                    .header("Content-Type", "application/json")
                    .body(json!({"username": USER, "password": "wrong", "name": "x"}).to_string())
                    .send()
                    .await
                    .expect("answer");
                assert_eq!(r.status(), 401);
            }
        }
    });
    futures_util::future::join_all(failures).await;
    h.http = common::client_from(ip(42, 1));
    let mut stranger = Browser::new(&h);
    let r = stranger.try_sign_in(USER, PASSWORD).await;
    assert_eq!(r.status, 429, "{}", r.text);
    assert!(r.header("retry-after").is_some());
    let mut laptop = Browser::new(&h);
    laptop.cookies = jar;
    laptop.sign_in(USER, PASSWORD).await;
}

/// After a dozen conformance runs a user has hundreds of tokens, most of them revoked, with
/// names of up to 255 characters: the page puts revoking by name first, says how much of the
/// list it shows, folds the revoked tokens away, cuts long names (whole in the tooltip), and
/// shows times as people read them.
#[tokio::test]
async fn a_long_list_puts_revoking_by_name_first_and_folds_revoked_tokens() {
    let h = Harness::in_process().await;
    let state = std::sync::Arc::clone(h.state.as_ref().expect("in-process"));
    let user = state
        .store
        .read(|r| r.find_user(USER))
        .expect("db")
        .expect("the user");
    let (user_id, now) = (user.id, state.clock.now());
    let long = format!("token-conformance tc0123abcd {}", "x".repeat(226));
    assert_eq!(long.chars().count(), 255);
    let named = long.clone();
    // 669 tokens, the newest 100 live (one of them with the long name), the rest revoked.
    state
        .store
        .write(move |tx| {
            for i in 0..669u32 {
                let mut digest = [7u8; 32];
                digest[..4].copy_from_slice(&i.to_be_bytes());
                let name = if i == 668 {
                    named.clone()
                } else {
                    format!("token-conformance tc0123abcd case {i}")
                };
                let at = now + time::Duration::milliseconds(i64::from(i));
                let row = tx.create_refresh_token(user_id, &name, &digest, at)?;
                if i < 569 {
                    tx.revoke_refresh_token_by_id(row.id, user_id, at)?
                        .expect("revoked");
                }
            }
            Ok(())
        })
        .await
        .expect("tokens");
    let mut b = Browser::new(&h);
    let page = b.sign_in(USER, PASSWORD).await.text;
    let at = |needle: &str| {
        page.find(needle)
            .unwrap_or_else(|| panic!("no {needle} in the page"))
    };
    assert!(
        at("action=\"/account/auth/tokens/revoke-named\"") < at("<table"),
        "revoking by name comes before the list"
    );
    assert!(
        page.contains("Showing the newest 500 of 669 tokens"),
        "the cut is said"
    );
    // 100 live rows in the table, the other 400 listed ones revoked, in a closed <details>.
    let details = at("<details class=\"revoked\"");
    assert!(!page[details..].starts_with("<details class=\"revoked\" id=\"revoked-tokens\" open"));
    assert!(
        page.contains("<summary>400 revoked token(s)</summary>"),
        "{page}"
    );
    assert_eq!(page[..details].matches(">ACTIVE<").count(), 100);
    assert_eq!(page[..details].matches(">REVOKED<").count(), 0);
    assert_eq!(page[details..].matches(">REVOKED<").count(), 400);
    // The long name: whole in the tooltip, cut by the style sheet.
    assert!(page.contains(&format!("<span title=\"{long}\">")), "{page}");
    let css = b.get("/account/auth/style.css").await.text;
    assert!(css.contains("text-overflow: ellipsis"), "{css}");
    // Times as people read them, the exact one in the element.
    let year = now.year();
    assert!(
        page.contains(&format!(" {year}, ")) && page.contains(" UTC</time>"),
        "{page}"
    );
}

/// A run's closing lines link to `/account/auth?revoke=PREFIX`: the prefix survives the
/// sign-in and is filled in, and opening the link revokes nothing.
#[tokio::test]
async fn a_link_with_a_prefix_fills_in_the_names_to_revoke() {
    let h = Harness::in_process().await;
    let token = h.login("token-conformance tc0123abcd pool").await;
    let mut b = Browser::new(&h);
    let page = b
        .get("/account/auth?revoke=token-conformance%20tc0123abcd")
        .await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert_eq!(hidden(&page.text, "revoke"), "token-conformance tc0123abcd");
    let form = hidden(&page.text, "form");
    let r = b
        .post(
            "/account/auth/sign-in",
            &[
                ("form", &form),
                ("revoke", "token-conformance tc0123abcd"),
                ("username", USER),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    let location = r.header("location").expect("a location").to_owned();
    assert_eq!(
        location,
        "/account/auth?revoke=token-conformance+tc0123abcd"
    );
    let page = b.get(&location).await;
    assert!(
        page.text.contains(
            "placeholder=\"token-conformance tc1234abcd\" value=\"token-conformance tc0123abcd\">"
        ),
        "{}",
        page.text
    );
    let alive = h
        .call("validateRefreshToken", Enc::Json, &refresh_fields(&token))
        .await;
    assert_eq!(alive.status, 200, "{}", alive.text);
    // Signed in already, the link fills in at once; escaped like everything else.
    let page = b.get("/account/auth?revoke=%22%3E%3Cscript%3E").await;
    assert!(
        page.text.contains("value=\"&quot;&gt;&lt;script&gt;\""),
        "{}",
        page.text
    );
}
