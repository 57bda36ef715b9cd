//! Output for people (aligned tables) and scripts (JSON).

use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
}

/// Prints rows as an aligned table with a header, or as the given JSON value.
pub fn emit(format: Format, json: Value, headers: &[&str], rows: Vec<Vec<String>>) {
    match format {
        Format::Json => print_json(&json),
        Format::Table => print!("{}", table(headers, &rows)),
    }
}

/// Prints JSON indented, as every command's `-o json` does.
pub fn print_json(json: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(json).unwrap_or_else(|_| json.to_string())
    );
}

/// Text from a server made safe for a terminal: ANSI escape sequences (`ESC [ ... final`)
/// are dropped, every other control character except line feed and tab becomes `?`. A name
/// or a log line can then never move the cursor, retitle the window or clear the screen.
pub fn printable(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' if chars.peek() == Some(&'[') => {
                chars.next();
                // parameters and intermediates, up to the final byte (@ to ~)
                for f in chars.by_ref() {
                    if ('@'..='~').contains(&f) {
                        break;
                    }
                }
            }
            '\n' | '\t' => out.push(c),
            c if c.is_control() => out.push('?'),
            c => out.push(c),
        }
    }
    out
}

/// [`printable`] on one line: line feeds and tabs become spaces (a table cell).
pub fn cell(s: &str) -> String {
    printable(s).replace(['\n', '\t'], " ")
}

/// Renders an aligned table (every cell made printable).
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| r.iter().map(|c| cell(c)).collect())
        .collect();
    let rows = &rows;
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if i < widths.len() {
                widths[i] = widths[i].max(c.chars().count());
            }
        }
    }
    let line = |cells: Vec<&str>| -> String {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(c);
                s.push_str(&" ".repeat(widths[i] - c.chars().count() + 2));
            }
        }
        s.trim_end().to_string() + "\n"
    };
    let mut out = line(headers.to_vec());
    for r in rows {
        out.push_str(&line(r.iter().map(String::as_str).collect()));
    }
    out
}

/// Prints a single object as `key: value` lines, or as JSON.
pub fn emit_one(format: Format, json: Value, fields: Vec<(&str, String)>) {
    match format {
        Format::Json => emit(format, json, &[], vec![]),
        Format::Table => {
            let w = fields.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
            for (k, v) in fields {
                println!("{k:w$}  {}", printable(&v));
            }
        }
    }
}

/// What a write created, changed or deleted, on stdout (kubectl's convention): one line in
/// table form, the object with `-o json`. Progress and hints go to stderr instead.
pub fn done(format: Format, json: Value, line: &str) {
    match format {
        Format::Json => emit(format, json, &[], vec![]),
        Format::Table => println!("{}", printable(line)),
    }
}

/// The `-o json` answer of a delete.
pub fn deleted(kind: &str, name: &str) -> Value {
    serde_json::json!({"deleted": {"kind": kind, "name": name}})
}

pub fn join(v: &[String]) -> String {
    if v.is_empty() {
        "-".into()
    } else {
        v.join(",")
    }
}

/// Seconds since the epoch as RFC 3339 UTC.
pub use proto::json::time;

#[cfg(test)]
#[path = "tests/output.rs"]
mod tests;
