//! Octostache filters: `#{Value | ToUpper}`, chained left to right, with arguments. Names
//! are case-insensitive. Replace and Match take .NET-style regular expressions; Replace's
//! `$1`/`${name}`/`$$`/`$&` keep their .NET meaning (`$2o` is group 2 then `o`).

use base64::Engine as _;

/// Every filter this engine knows (lower case), with its aliases.
const FILTERS: &[&str] = &[
    "tolower",
    "toupper",
    "htmlescape",
    "xmlescape",
    "jsonescape",
    "yamlsinglequoteescape",
    "yamldoublequoteescape",
    "propertieskeyescape",
    "propertiesvalueescape",
    "replace",
    "substring",
    "truncate",
    "trim",
    "tobase64",
    "base64encode",
    "frombase64",
    "base64decode",
    "uriescape",
    "uridataescape",
    "append",
    "prepend",
    "format",
    "match",
    "startswith",
    "endswith",
    "contains",
    "nowdate",
    "nowdateutc",
];

/// Longest regular expression a template may hold (bytes), and its compiled size cap.
const MAX_PATTERN: usize = 1024;
const MAX_REGEX_SIZE: usize = 1 << 20;

pub(crate) fn known(name: &str) -> bool {
    FILTERS.contains(&name.to_ascii_lowercase().as_str())
}

fn arg<'a>(args: &'a [String], i: usize, filter: &str, what: &str) -> Result<&'a str, String> {
    args.get(i)
        .map(String::as_str)
        .ok_or_else(|| format!("{filter} needs {what}"))
}

fn number(s: &str, filter: &str) -> Result<usize, String> {
    s.trim()
        .parse()
        .map_err(|_| format!("{filter} needs a whole number, not '{s}'"))
}

fn regex(pattern: &str) -> Result<regex::Regex, String> {
    if pattern.len() > MAX_PATTERN {
        return Err(format!("the pattern is over {MAX_PATTERN} bytes"));
    }
    regex::RegexBuilder::new(pattern)
        .size_limit(MAX_REGEX_SIZE)
        .build()
        .map_err(|e| format!("'{pattern}' is not a regular expression this engine reads: {e}"))
}

/// .NET replacement syntax in Rust's: `$1` -> `${1}`, `$&` -> `${0}`, `${name}` and `$$` kept.
pub(crate) fn dotnet_replacement(r: &str) -> String {
    let mut out = String::with_capacity(r.len() + 4);
    let mut chars = r.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '$' {
            out.push(c);
            continue;
        }
        match chars.peek().copied() {
            Some('$') => {
                chars.next();
                out.push_str("$$");
            }
            Some('&') => {
                chars.next();
                out.push_str("${0}");
            }
            Some('{') => out.push('$'),
            Some(d) if d.is_ascii_digit() => {
                let mut n = String::new();
                while let Some(d) = chars.peek().copied().filter(char::is_ascii_digit) {
                    n.push(d);
                    chars.next();
                }
                out.push_str(&format!("${{{n}}}"));
            }
            _ => out.push_str("$$"),
        }
    }
    out
}

fn escape_with(s: &str, f: impl Fn(char) -> Option<&'static str>) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match f(c) {
            Some(e) => out.push_str(e),
            None => out.push(c),
        }
    }
    out
}

fn json_escape(s: &str) -> String {
    let quoted = serde_json::to_string(s).unwrap_or_default();
    quoted[1..quoted.len().saturating_sub(1).max(1)].to_string()
}

fn properties(s: &str, key: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for (i, c) in s.chars().enumerate() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{c}' => out.push_str("\\f"),
            ' ' if key || i == 0 => out.push_str("\\ "),
            '=' | ':' | '#' | '!' if key => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// Percent-encodes every byte not in `keep` (and not an ASCII letter or digit).
fn percent(s: &str, keep: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || keep.as_bytes().contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn truthy(b: bool) -> String {
    if b { "true" } else { "false" }.to_string()
}

/// Applies filter `name` to `input`.
pub(crate) fn apply(name: &str, input: &str, args: &[String]) -> Result<String, String> {
    let lower = name.to_ascii_lowercase();
    let f = name;
    Ok(match lower.as_str() {
        "tolower" => input.to_lowercase(),
        "toupper" => input.to_uppercase(),
        "htmlescape" => escape_with(input, |c| match c {
            '&' => Some("&amp;"),
            '<' => Some("&lt;"),
            '>' => Some("&gt;"),
            '"' => Some("&quot;"),
            '\'' => Some("&#39;"),
            _ => None,
        }),
        "xmlescape" => escape_with(input, |c| match c {
            '&' => Some("&amp;"),
            '<' => Some("&lt;"),
            '>' => Some("&gt;"),
            '"' => Some("&quot;"),
            '\'' => Some("&apos;"),
            _ => None,
        }),
        "jsonescape" => json_escape(input),
        "yamlsinglequoteescape" => input.replace('\'', "''"),
        "yamldoublequoteescape" => json_escape(input),
        "propertieskeyescape" => properties(input, true),
        "propertiesvalueescape" => properties(input, false),
        "replace" => {
            let re = regex(arg(args, 0, f, "a pattern")?)?;
            let with = dotnet_replacement(args.get(1).map_or("", String::as_str));
            re.replace_all(input, with.as_str()).into_owned()
        }
        "match" => truthy(regex(arg(args, 0, f, "a pattern")?)?.is_match(input)),
        "substring" => {
            let chars: Vec<char> = input.chars().collect();
            let (start, len) = match args.len() {
                1 => (0, number(&args[0], f)?),
                2 => (number(&args[0], f)?, number(&args[1], f)?),
                _ => return Err("Substring takes a length, or a start and a length".into()),
            };
            let start = start.min(chars.len());
            chars[start..(start + len).min(chars.len())]
                .iter()
                .collect()
        }
        "truncate" => {
            let n = number(arg(args, 0, f, "a length")?, f)?;
            if input.chars().count() > n {
                input.chars().take(n).collect::<String>() + "..."
            } else {
                input.to_string()
            }
        }
        "trim" => match args.first().map(|a| a.to_ascii_lowercase()).as_deref() {
            None => input.trim().to_string(),
            Some("start") => input.trim_start().to_string(),
            Some("end") => input.trim_end().to_string(),
            Some(o) => return Err(format!("Trim takes start or end, not '{o}'")),
        },
        "tobase64" | "base64encode" => base64::engine::general_purpose::STANDARD.encode(input),
        "frombase64" | "base64decode" => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(input.trim())
                .map_err(|_| "the value is not base64".to_string())?;
            String::from_utf8(bytes)
                .map_err(|_| "the decoded value is not UTF-8 text".to_string())?
        }
        "uriescape" => percent(input, "-_.~:/?#[]@!$&'()*+,;=%"),
        "uridataescape" => percent(input, "-_.~"),
        "append" => format!("{input}{}", args.join(" ")),
        "prepend" => format!("{}{input}", args.join(" ")),
        "startswith" => truthy(input.starts_with(arg(args, 0, f, "a prefix")?)),
        "endswith" => truthy(input.ends_with(arg(args, 0, f, "a suffix")?)),
        "contains" => truthy(input.contains(arg(args, 0, f, "a text to look for")?)),
        "format" => super::format::value(input, arg(args, 0, f, "a format")?)?,
        "nowdate" => super::format::now(false, args.first().map(String::as_str))?,
        "nowdateutc" => super::format::now(true, args.first().map(String::as_str))?,
        _ => return Err(format!("unknown filter '{name}'")),
    })
}
