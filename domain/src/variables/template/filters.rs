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

/// As Octostache: only `"`, `\`, CR, LF and tab.
fn json_escape(s: &str) -> String {
    escape_with(s, |c| match c {
        '"' => Some("\\\""),
        '\\' => Some("\\\\"),
        '\r' => Some("\\r"),
        '\n' => Some("\\n"),
        '\t' => Some("\\t"),
        _ => None,
    })
}

/// `\uXXXX` (UTF-16 units) for `c`.
fn unicode(c: char, out: &mut String) {
    let mut units = [0u16; 2];
    for u in c.encode_utf16(&mut units) {
        out.push_str(&format!("\\u{u:04x}"));
    }
}

/// YAML double-quoted: `\`, `"`, CR, LF, tab escaped; anything outside printable ASCII as
/// `\uXXXX`.
fn yaml_double(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\r' => out.push_str("\\r"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            ' '..='~' => out.push(c),
            c => unicode(c, &mut out),
        }
    }
    out
}

/// Java properties: `\`, CR, LF, tab escaped, characters above U+00FF as `\uXXXX`; a key
/// also escapes space, `:` and `=`.
fn properties(s: &str, key: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            ' ' | ':' | '=' if key => {
                out.push('\\');
                out.push(c);
            }
            c if u32::from(c) > 0xff => unicode(c, &mut out),
            c => out.push(c),
        }
    }
    out
}

/// Text as bytes in `encoding` (utf8, the default, or unicode: UTF-16LE), for Base64.
fn encode(s: &str, encoding: Option<&str>) -> Result<Vec<u8>, String> {
    match encoding.map(str::to_ascii_lowercase).as_deref() {
        None | Some("utf8") | Some("utf-8") => Ok(s.as_bytes().to_vec()),
        Some("unicode") => Ok(s.encode_utf16().flat_map(u16::to_le_bytes).collect()),
        Some(o) => Err(format!("unknown encoding '{o}': use utf8 or unicode")),
    }
}

fn decode(b: Vec<u8>, encoding: Option<&str>) -> Result<String, String> {
    match encoding.map(str::to_ascii_lowercase).as_deref() {
        None | Some("utf8") | Some("utf-8") => {
            String::from_utf8(b).map_err(|_| "the decoded value is not UTF-8 text".to_string())
        }
        Some("unicode") => {
            let units: Vec<u16> = b
                .chunks(2)
                .map(|c| u16::from_le_bytes([c[0], *c.get(1).unwrap_or(&0)]))
                .collect();
            String::from_utf16(&units).map_err(|_| "the decoded value is not UTF-16 text".into())
        }
        Some(o) => Err(format!("unknown encoding '{o}': use utf8 or unicode")),
    }
}

/// How many arguments each filter takes (Octostache echoes a token with any other count).
fn arity(filter: &str) -> (usize, usize) {
    match filter {
        "replace" => (1, 2),
        "substring" | "truncate" => (1, 2),
        "format" => (1, 2),
        "trim" | "tobase64" | "base64encode" | "frombase64" | "base64decode" => (0, 1),
        "nowdate" | "nowdateutc" => (0, 1),
        "match" | "startswith" | "endswith" | "contains" => (1, 1),
        "append" | "prepend" => (1, usize::MAX),
        _ => (0, 0),
    }
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
    if !known(&lower) {
        return Err(format!("unknown filter '{name}'"));
    }
    let (min, max) = arity(&lower);
    if args.len() < min || args.len() > max {
        return Err(format!("{name} does not take {} argument(s)", args.len()));
    }
    Ok(match lower.as_str() {
        "tolower" => input.to_lowercase(),
        "toupper" => input.to_uppercase(),
        "htmlescape" => escape_with(input, |c| match c {
            '&' => Some("&amp;"),
            '<' => Some("&lt;"),
            '>' => Some("&gt;"),
            '"' => Some("&quot;"),
            '\'' => Some("&apos;"),
            '/' => Some("&#x2F;"),
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
        "yamlsinglequoteescape" => input.replace('\'', "''").replace('\n', "\n\n"),
        "yamldoublequoteescape" => yaml_double(input),
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
            if start > chars.len() {
                return Err(format!(
                    "the value has {} characters, fewer than the start {start}",
                    chars.len()
                ));
            }
            chars[start..(start + len).min(chars.len())]
                .iter()
                .collect()
        }
        "truncate" => {
            let n = number(arg(args, 0, f, "a length")?, f)?;
            if input.chars().count() > n {
                input.chars().take(n).collect::<String>()
                    + args.get(1).map_or("...", String::as_str)
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
        "tobase64" | "base64encode" => base64::engine::general_purpose::STANDARD
            .encode(encode(input, args.first().map(String::as_str))?),
        "frombase64" | "base64decode" => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(input.trim())
                .map_err(|_| "the value is not base64".to_string())?;
            decode(bytes, args.first().map(String::as_str))?
        }
        "uriescape" => percent(input, "-_.~:/?#[]@!$&'()*+,;=%"),
        "uridataescape" => percent(input, "-_.~"),
        "append" => format!("{input}{}", args.concat()),
        "prepend" => format!("{}{input}", args.concat()),
        "startswith" => truthy(input.starts_with(arg(args, 0, f, "a prefix")?)),
        "endswith" => truthy(input.ends_with(arg(args, 0, f, "a suffix")?)),
        "contains" => truthy(input.contains(arg(args, 0, f, "a text to look for")?)),
        "format" => match args {
            [kind, fmt] => super::format::typed(input, kind, fmt)?,
            _ => super::format::value(input, arg(args, 0, f, "a format")?)?,
        },
        "nowdate" | "nowdateutc" if !input.is_empty() => {
            return Err(format!("{name} takes no value: write #{{ | {name}}}"));
        }
        "nowdate" => super::format::now(false, args.first().map(String::as_str))?,
        "nowdateutc" => super::format::now(true, args.first().map(String::as_str))?,
        _ => return Err(format!("unknown filter '{name}'")),
    })
}
