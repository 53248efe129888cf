//! The page's HTML: small templates, every value escaped. No inline script or style (the
//! Content-Security-Policy forbids both); the look is `style.css`, the copy button `copy.js`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use time::OffsetDateTime;

use crate::clock::format_api;
use crate::store::{RefreshTokenRow, User};
use crate::token::TokenStatus;

/// Something to say above the token list.
pub(crate) enum Notice<'a> {
    /// A token was created or regenerated: its value, shown this once.
    NewToken {
        verb: &'static str,
        name: &'a str,
        value: &'a str,
        user_id: i64,
    },
    /// An action succeeded.
    Done(&'a str),
    /// Revoking every token whose name starts with `prefix` asks first: `count` would go.
    ConfirmRevokeNamed {
        prefix: &'a str,
        count: i64,
        csrf: &'a str,
    },
    /// A form was refused.
    Problem(&'a str),
}

/// Escapes text for HTML content and attribute values.
pub(crate) fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// An HTML answer.
pub(crate) fn page_response(status: StatusCode, body: &str) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        )],
        body.to_owned(),
    )
        .into_response()
}

fn layout(title: &str, main: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title} · Token Authentication</title>\n\
         <link rel=\"stylesheet\" href=\"/account/auth/style.css\">\n\
         <script src=\"/account/auth/copy.js\" defer></script>\n</head>\n<body>\n\
         <header><p class=\"brand\">Token Authentication</p></header>\n\
         <main>\n{main}\n</main>\n</body>\n</html>\n",
        title = esc(title)
    )
}

/// A page that only says something (errors).
pub(crate) fn message_page(message: &str) -> String {
    layout(
        "Token Authentication",
        &format!(
            "<h1>Token Authentication</h1>\n<p class=\"problem\" role=\"alert\">{}</p>\n\
             <p><a href=\"/account/auth\">Back to your tokens</a></p>",
            esc(message)
        ),
    )
}

/// The sign-in form; `form` is the double-submit token.
pub(crate) fn sign_in_page(form: &str, problem: Option<&str>) -> String {
    let problem = problem
        .map(|p| format!("<p class=\"problem\" role=\"alert\">{}</p>\n", esc(p)))
        .unwrap_or_default();
    layout(
        "Sign in",
        &format!(
            "<h1>Sign in</h1>\n{problem}\
             <form method=\"post\" action=\"/account/auth/sign-in\" class=\"card\">\n\
             <input type=\"hidden\" name=\"form\" value=\"{form}\">\n\
             <label for=\"username\">Username</label>\n\
             <input id=\"username\" name=\"username\" type=\"text\" autocomplete=\"username\" \
             required autofocus>\n\
             <label for=\"password\">Password</label>\n\
             <input id=\"password\" name=\"password\" type=\"password\" \
             autocomplete=\"current-password\">\n\
             <button type=\"submit\">Sign in</button>\n</form>\n\
             <p class=\"hint\">Signing in through SSO? Use the one-time sign-in link from your \
             identity provider. On this reference server an administrator prints one with \
             <code>reference-server sso-link EMAIL</code>.</p>",
            form = esc(form)
        ),
    )
}

/// The page a one-time link opens: it asks before using the link up.
pub(crate) fn sso_page(form: &str, username: &str, link: &str) -> String {
    layout(
        "Sign in with SSO",
        &format!(
            "<h1>Sign in with SSO</h1>\n\
             <form method=\"post\" action=\"/account/auth/sso\" class=\"card\">\n\
             <input type=\"hidden\" name=\"form\" value=\"{form}\">\n\
             <input type=\"hidden\" name=\"link\" value=\"{link}\">\n\
             <p>Continue as <strong id=\"sso-user\">{user}</strong>? The link works once.</p>\n\
             <button type=\"submit\">Continue</button>\n</form>",
            form = esc(form),
            link = esc(link),
            user = esc(username)
        ),
    )
}

fn notice_html(notice: Option<Notice<'_>>) -> String {
    match notice {
        None => String::new(),
        Some(Notice::Done(m)) => format!("<p class=\"done\" role=\"status\">{}</p>\n", esc(m)),
        Some(Notice::ConfirmRevokeNamed {
            prefix,
            count,
            csrf,
        }) => format!(
            "<form method=\"post\" action=\"/account/auth/tokens/revoke-named\" \
             class=\"card confirm\" role=\"alert\">\n\
             <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\n\
             <input type=\"hidden\" name=\"prefix\" value=\"{prefix}\">\n\
             <input type=\"hidden\" name=\"confirm\" value=\"yes\">\n\
             <p id=\"confirm-revoke\">Revoke <strong>{count}</strong> token(s) whose names start \
             with \u{201c}{prefix}\u{201d}, and every access token minted from them? This cannot \
             be undone.</p>\n<button type=\"submit\" class=\"revoke\">Revoke {count} token(s)\
             </button>\n</form>\n",
            csrf = esc(csrf),
            prefix = esc(prefix)
        ),
        Some(Notice::Problem(m)) => {
            format!("<p class=\"problem\" role=\"alert\">{}</p>\n", esc(m))
        }
        Some(Notice::NewToken {
            verb,
            name,
            value,
            user_id,
        }) => format!(
            "<section class=\"card new-token\" aria-labelledby=\"new-token-title\">\n\
             <h2 id=\"new-token-title\">{verb} \u{201c}{name}\u{201d}</h2>\n\
             <p>Copy the token now: it is shown this once and never again.</p>\n\
             <label for=\"new-token\">Refresh token</label>\n\
             <div class=\"copy\">\n\
             <input id=\"new-token\" type=\"text\" value=\"{value}\" readonly \
             autocomplete=\"off\" spellcheck=\"false\">\n\
             <button type=\"button\" data-copy=\"new-token\" hidden>Copy</button>\n</div>\n\
             <p>Your <code>user_id</code> for the API: \
             <strong id=\"new-token-user\">{user_id}</strong></p>\n</section>\n",
            name = esc(name),
            value = esc(value)
        ),
    }
}

fn token_row(t: &RefreshTokenRow, csrf: &str, now: OffsetDateTime) -> String {
    let status = t.status(now);
    let when = |at: Option<OffsetDateTime>| at.map_or_else(|| "never".to_owned(), format_api);
    let actions = if status == TokenStatus::Revoked {
        String::new()
    } else {
        let form = |action: &str, label: &str| {
            format!(
                "<form method=\"post\" action=\"/account/auth/tokens/{action}\">\
                 <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
                 <input type=\"hidden\" name=\"token_id\" value=\"{id}\">\
                 <button type=\"submit\" class=\"{action}\" \
                 aria-label=\"{label} {name}\">{label}</button></form>",
                csrf = esc(csrf),
                id = t.id,
                name = esc(&t.name)
            )
        };
        form("regenerate", "Regenerate") + &form("revoke", "Revoke")
    };
    format!(
        "<tr data-token-id=\"{id}\">\
         <td data-label=\"Name\" class=\"name\">{name}</td>\
         <td data-label=\"Created\">{created}</td>\
         <td data-label=\"Expires\">{expires}</td>\
         <td data-label=\"Last used\">{used}</td>\
         <td data-label=\"Status\" class=\"status {class}\">{status}</td>\
         <td class=\"actions\">{actions}</td></tr>\n",
        id = t.id,
        name = esc(&t.name),
        created = format_api(t.created_at),
        expires = format_api(t.expires_at),
        used = when(t.last_used_at),
        class = status.as_str().to_lowercase(),
        status = status.as_str()
    )
}

/// The signed-in page: who, a create form, the tokens, and a notice if there is one.
pub(crate) fn tokens_page(
    user: &User,
    csrf: &str,
    tokens: &[RefreshTokenRow],
    now: OffsetDateTime,
    notice: Option<Notice<'_>>,
) -> String {
    let rows: String = tokens.iter().map(|t| token_row(t, csrf, now)).collect();
    let list = if tokens.is_empty() {
        "<p>You have no refresh tokens yet.</p>".to_owned()
    } else {
        format!(
            "<table>\n<caption>Your refresh tokens</caption>\n<thead><tr><th scope=\"col\">Name\
             </th><th scope=\"col\">Created</th><th scope=\"col\">Expires</th><th scope=\"col\">\
             Last used</th><th scope=\"col\">Status</th><th scope=\"col\"><span class=\"hidden\">\
             Actions</span></th></tr></thead>\n<tbody>\n{rows}</tbody>\n</table>"
        )
    };
    layout(
        "Your refresh tokens",
        &format!(
            "<div class=\"who\"><p>Signed in as <strong id=\"signed-in-as\">{user}</strong></p>\n\
             <form method=\"post\" action=\"/account/auth/sign-out\">\
             <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
             <button type=\"submit\" class=\"quiet\">Sign out</button></form></div>\n\
             <h1>Refresh tokens</h1>\n{notice}\
             <form method=\"post\" action=\"/account/auth/tokens\" class=\"card create\">\n\
             <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\n\
             <label for=\"name\">Name of a new token</label>\n\
             <input id=\"name\" name=\"name\" type=\"text\" maxlength=\"255\" required>\n\
             <button type=\"submit\">Create token</button>\n</form>\n\
             <p class=\"hint\">Regenerating a token replaces it with a new one of the same name; \
             revoking it ends it. Either way every access token minted from it stops working.\
             </p>\n{list}\n\
             <form method=\"post\" action=\"/account/auth/tokens/revoke-named\" class=\"card\">\n\
             <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\n\
             <label for=\"prefix\">Revoke every token whose name starts with</label>\n\
             <input id=\"prefix\" name=\"prefix\" type=\"text\" maxlength=\"255\" required \
             placeholder=\"token-conformance tc1234abcd\">\n\
             <button type=\"submit\" class=\"revoke\">Revoke these\u{2026}</button>\n</form>",
            user = esc(&user.username),
            csrf = esc(csrf),
            notice = notice_html(notice)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn everything_user_given_is_escaped() {
        assert_eq!(
            esc("<script>\"x\" & 'y'</script>"),
            "&lt;script&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/script&gt;"
        );
        let user = User {
            id: 1,
            username: "<b>@example.com".into(),
            password_hash: None,
            sso: false,
        };
        let row = RefreshTokenRow {
            id: 3,
            user_id: 1,
            name: "<img src=x onerror=alert(1)>".into(),
            created_at: OffsetDateTime::UNIX_EPOCH,
            expires_at: OffsetDateTime::UNIX_EPOCH,
            last_used_at: None,
            revoked_at: None,
        };
        let page = tokens_page(&user, "c\"srf", &[row], OffsetDateTime::UNIX_EPOCH, None);
        assert!(!page.contains("<img"), "{page}");
        assert!(!page.contains("<b>"), "{page}");
        assert!(!page.contains("c\"srf"), "{page}");
        assert!(!page.contains("<script>"), "no inline script: {page}");
        assert!(!page.contains("style="), "no inline style: {page}");
    }
}
