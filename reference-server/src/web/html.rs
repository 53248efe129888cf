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

/// The sign-in form; `form` is the double-submit token, `revoke` the names to fill in on the
/// page after signing in.
pub(crate) fn sign_in_page(form: &str, problem: Option<&str>, revoke: Option<&str>) -> String {
    let problem = problem
        .map(|p| format!("<p class=\"problem\" role=\"alert\">{}</p>\n", esc(p)))
        .unwrap_or_default();
    let revoke = revoke
        .map(|r| {
            format!(
                "<input type=\"hidden\" name=\"revoke\" value=\"{}\">\n",
                esc(r)
            )
        })
        .unwrap_or_default();
    layout(
        "Sign in",
        &format!(
            "<h1>Sign in</h1>\n{problem}\
             <form method=\"post\" action=\"/account/auth/sign-in\" class=\"card\">\n\
             <input type=\"hidden\" name=\"form\" value=\"{form}\">\n{revoke}\
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

/// A time as people read it, in UTC (the page has no script to learn the reader's zone):
/// `7 Dec 2026, 14:05 UTC`, with the API's exact timestamp as the element's `datetime` and
/// tooltip.
fn human_time(at: OffsetDateTime) -> String {
    const SHOWN: &[time::format_description::BorrowedFormatItem<'_>] = time::macros::format_description!(
        "[day padding:none] [month repr:short] [year], [hour]:[minute] UTC"
    );
    let exact = format_api(at);
    let shown = at
        .to_offset(time::UtcOffset::UTC)
        .format(SHOWN)
        .unwrap_or_else(|_| exact.clone());
    format!("<time datetime=\"{exact}\" title=\"{exact}\">{shown}</time>")
}

fn token_row(t: &RefreshTokenRow, csrf: &str, now: OffsetDateTime) -> String {
    let status = t.status(now);
    let when = |at: Option<OffsetDateTime>| at.map_or_else(|| "never".to_owned(), human_time);
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
    // A generated name may be 255 characters: the cell shows one line of it, cut with an
    // ellipsis by the style sheet, and the whole name in its tooltip (and to screen readers
    // and the browser's find, which read the text, not the cut).
    format!(
        "<tr data-token-id=\"{id}\">\
         <td data-label=\"Name\" class=\"name\"><span title=\"{name}\">{name}</span></td>\
         <td data-label=\"Created\">{created}</td>\
         <td data-label=\"Expires\">{expires}</td>\
         <td data-label=\"Last used\">{used}</td>\
         <td data-label=\"Status\" class=\"status {class}\">{status}</td>\
         <td class=\"actions\">{actions}</td></tr>\n",
        id = t.id,
        name = esc(&t.name),
        created = human_time(t.created_at),
        expires = human_time(t.expires_at),
        used = when(t.last_used_at),
        class = status.as_str().to_lowercase(),
        status = status.as_str()
    )
}

/// A table of token rows.
fn token_table(caption: &str, rows: &str) -> String {
    format!(
        "<table>\n<caption>{caption}</caption>\n<thead><tr><th scope=\"col\">Name\
         </th><th scope=\"col\">Created</th><th scope=\"col\">Expires</th><th scope=\"col\">\
         Last used</th><th scope=\"col\">Status</th><th scope=\"col\"><span class=\"hidden\">\
         Actions</span></th></tr></thead>\n<tbody>\n{rows}</tbody>\n</table>"
    )
}

/// The tokens the page lists: the newest, and how many the user has in all.
pub(crate) struct TokenList<'a> {
    /// The newest tokens, newest first (at most the page's limit).
    pub(crate) rows: &'a [RefreshTokenRow],
    /// How many tokens the user has, listed or not.
    pub(crate) total: usize,
}

/// The list: live tokens in a table, revoked ones folded away beneath it (after a few
/// conformance runs they are most of the list), and, when the list is cut, how much of it is
/// shown.
fn token_list(list: &TokenList<'_>, csrf: &str, now: OffsetDateTime) -> String {
    if list.rows.is_empty() {
        return "<p>You have no refresh tokens yet.</p>".to_owned();
    }
    let (revoked, live): (Vec<&RefreshTokenRow>, Vec<&RefreshTokenRow>) = list
        .rows
        .iter()
        .partition(|t| t.status(now) == TokenStatus::Revoked);
    let shown = list.rows.len();
    let mut out = if shown < list.total {
        format!(
            "<p class=\"count\" id=\"token-count\">Showing the newest {shown} of {total} \
             tokens; older ones are not listed. Revoking by name above reaches them too, and \
             revoked and expired tokens are deleted 30 days after they end.</p>\n",
            total = list.total
        )
    } else {
        String::new()
    };
    if live.is_empty() {
        out.push_str("<p>No active or expired tokens.</p>\n");
    } else {
        let rows: String = live.iter().map(|t| token_row(t, csrf, now)).collect();
        out.push_str(&token_table("Your refresh tokens", &rows));
        out.push('\n');
    }
    if !revoked.is_empty() {
        let rows: String = revoked.iter().map(|t| token_row(t, csrf, now)).collect();
        out.push_str(&format!(
            "<details class=\"revoked\" id=\"revoked-tokens\">\n<summary>{n} revoked \
             token(s)</summary>\n{table}\n</details>\n",
            n = revoked.len(),
            table = token_table("Revoked refresh tokens", &rows)
        ));
    }
    out
}

/// The signed-in page: who, a notice if there is one, revoking by name (what a conformance
/// run's leftovers need, first), a create form, and the tokens. `prefix` fills in the names to
/// revoke (a run's closing lines link to the page with theirs).
pub(crate) fn tokens_page(
    user: &User,
    csrf: &str,
    list: &TokenList<'_>,
    now: OffsetDateTime,
    notice: Option<Notice<'_>>,
    prefix: Option<&str>,
) -> String {
    let prefix = prefix
        .map(|p| format!(" value=\"{}\"", esc(p)))
        .unwrap_or_default();
    layout(
        "Your refresh tokens",
        &format!(
            "<div class=\"who\"><p>Signed in as <strong id=\"signed-in-as\">{user}</strong></p>\n\
             <form method=\"post\" action=\"/account/auth/sign-out\">\
             <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
             <button type=\"submit\" class=\"quiet\">Sign out</button></form></div>\n\
             <h1>Refresh tokens</h1>\n{notice}\
             <form method=\"post\" action=\"/account/auth/tokens/revoke-named\" class=\"card\">\n\
             <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\n\
             <label for=\"prefix\">Revoke every token whose name starts with</label>\n\
             <input id=\"prefix\" name=\"prefix\" type=\"text\" maxlength=\"255\" required \
             placeholder=\"token-conformance tc1234abcd\"{prefix}>\n\
             <button type=\"submit\" class=\"revoke\">Revoke these\u{2026}</button>\n</form>\n\
             <form method=\"post\" action=\"/account/auth/tokens\" class=\"card create\">\n\
             <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\n\
             <label for=\"name\">Name of a new token</label>\n\
             <input id=\"name\" name=\"name\" type=\"text\" maxlength=\"255\" required>\n\
             <button type=\"submit\">Create token</button>\n</form>\n\
             <p class=\"hint\">Regenerating a token replaces it with a new one of the same name; \
             revoking it ends it. Either way every access token minted from it stops working.\
             </p>\n{list}",
            user = esc(&user.username),
            csrf = esc(csrf),
            notice = notice_html(notice),
            list = token_list(list, csrf, now),
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
        let list = TokenList {
            rows: &[row],
            total: 1,
        };
        let page = tokens_page(
            &user,
            "c\"srf",
            &list,
            OffsetDateTime::UNIX_EPOCH,
            None,
            Some("\"><script>"),
        );
        assert!(!page.contains("<img"), "{page}");
        assert!(!page.contains("<b>"), "{page}");
        assert!(!page.contains("c\"srf"), "{page}");
        assert!(!page.contains("<script>"), "no inline script: {page}");
        assert!(!page.contains("style="), "no inline style: {page}");
    }
}
