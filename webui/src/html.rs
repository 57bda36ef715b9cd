//! HTML for the pages: escaping ([`esc`]), the layout every page shares ([`page`]: a skip
//! link, the navigation, the signed-in user and a logout form carrying the CSRF token), and
//! deployment states as an icon and a word, never colour alone ([`state`]).

/// `s` safe inside HTML text and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' && c != '\t' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// `s` as one URL path segment.
pub fn seg(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A link in the navigation.
pub struct Nav<'a> {
    pub href: &'a str,
    pub label: &'a str,
}

/// Who is signed in, for the header (and the logout form's token).
pub struct Signed<'a> {
    pub user: &'a str,
    pub csrf: &'a str,
}

/// A whole page: `title`, the product name `product` (e.g. "Space DevTest"), navigation,
/// the signed-in user (none on the login page) and `body` (already HTML).
pub fn page(
    title: &str,
    product: &str,
    nav: &[Nav<'_>],
    signed: Option<Signed<'_>>,
    body: &str,
) -> String {
    let mut links = String::new();
    for n in nav {
        links.push_str(&format!(
            "<li><a href=\"{}\">{}</a></li>",
            esc(n.href),
            esc(n.label)
        ));
    }
    let who = match signed {
        Some(s) => format!(
            "<form method=\"post\" action=\"/logout\" class=\"logout\"><span class=\"user\">Signed in as <strong>{}</strong></span> <input type=\"hidden\" name=\"csrf\" value=\"{}\"><button type=\"submit\">Sign out</button></form>",
            esc(s.user),
            esc(s.csrf)
        ),
        None => String::new(),
    };
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{} · {}</title><link rel=\"stylesheet\" href=\"/assets/app.css\">\
<script src=\"/assets/app.js\" defer></script></head><body>\
<a class=\"skip\" href=\"#main\">Skip to content</a>\
<header><span class=\"product\">{}</span><nav aria-label=\"Main\"><ul>{links}</ul></nav>{who}</header>\
<main id=\"main\" tabindex=\"-1\"><h1>{}</h1>{body}</main></body></html>\n",
        esc(title),
        esc(product),
        esc(product),
        esc(title)
    )
}

/// A deployment state as an icon and its word (the class adds colour, never alone).
pub fn state(state: &str) -> String {
    let (icon, class) = match state {
        "success" => ("✔", "ok"),
        "failed" => ("✖", "failed"),
        "running" | "executing" => ("⟳", "running"),
        "queued" => ("⏳", "queued"),
        "cancelled" => ("⊘", "cancelled"),
        _ => ("•", "other"),
    };
    format!(
        "<span class=\"state {class}\"><span aria-hidden=\"true\">{icon}</span> {}</span>",
        esc(state)
    )
}

/// An error page body: what went wrong, in words a user can act on.
pub fn error(message: &str) -> String {
    format!("<p role=\"alert\" class=\"error\">{}</p>", esc(message))
}
