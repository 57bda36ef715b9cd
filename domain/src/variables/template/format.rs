//! `Format`, `NowDate` and `NowDateUtc` with .NET invariant-culture format strings: numbers
//! (`N2`, `F0`, `D5`, `P1`, `X`, custom `#,##0.00`) and dates (`yyyy-MM-dd HH:mm:ss`, `o`,
//! `s`, `u`, `d`, `t`, `T`). `NowDate` is the server's clock in UTC (no local time zone is
//! read), as is `NowDateUtc`.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// `Format FMT` on a value that is a number or an RFC 3339 date.
pub(crate) fn value(input: &str, fmt: &str) -> Result<String, String> {
    let t = input.trim();
    if let Ok(n) = t.parse::<f64>() {
        return number(n, fmt);
    }
    if let Some(d) = parse_date(t) {
        return date(d, fmt);
    }
    Err(format!("Format needs a number or a date, not '{t}'"))
}

/// `NowDate` (the server's clock; no local time zone is read, so it is UTC without an offset)
/// and `NowDateUtc` (ends in `Z`), in .NET's round-trip form unless a format is given.
pub(crate) fn now(utc: bool, fmt: Option<&str>) -> Result<String, String> {
    let default = if utc {
        "yyyy-MM-ddTHH:mm:ss.fffffffZ"
    } else {
        "yyyy-MM-ddTHH:mm:ss.fffffff"
    };
    date(OffsetDateTime::now_utc(), fmt.unwrap_or(default))
}

/// `Format TYPE FMT`: the value read as a Date/DateTime/DateTimeOffset or Int/Double/Decimal.
pub(crate) fn typed(input: &str, kind: &str, fmt: &str) -> Result<String, String> {
    let t = input.trim();
    match kind.to_ascii_lowercase().as_str() {
        "date" | "datetime" | "datetimeoffset" => date(
            parse_date(t).ok_or_else(|| format!("'{t}' is not a date"))?,
            fmt,
        ),
        "int" | "double" | "decimal" => number(
            t.parse().map_err(|_| format!("'{t}' is not a number"))?,
            fmt,
        ),
        other => Err(format!(
            "Format reads Date, DateTime, DateTimeOffset, Int, Double or Decimal, not '{other}'"
        )),
    }
}

/// RFC 3339, or `yyyy-MM-dd[ HH:mm[:ss]]` with `-` or `/` (UTC).
fn parse_date(t: &str) -> Option<OffsetDateTime> {
    if let Ok(d) = OffsetDateTime::parse(t, &Rfc3339) {
        return Some(d);
    }
    let t = t.replace('/', "-").replace('T', " ");
    let (day, clock) = t.split_once(' ').unwrap_or((t.as_str(), "00:00:00"));
    let mut d = day.split('-').map(|x| x.parse::<i64>().ok());
    let (y, m, dd) = (d.next()??, d.next()??, d.next()??);
    let mut h = clock.split(':').map(|x| x.parse::<i64>().ok());
    let (hh, mm, ss) = (
        h.next()??,
        h.next().flatten().unwrap_or(0),
        h.next().flatten().unwrap_or(0),
    );
    let month = time::Month::try_from(u8::try_from(m).ok()?).ok()?;
    let date =
        time::Date::from_calendar_date(i32::try_from(y).ok()?, month, u8::try_from(dd).ok()?)
            .ok()?;
    let tm = time::Time::from_hms(
        u8::try_from(hh).ok()?,
        u8::try_from(mm).ok()?,
        u8::try_from(ss).ok()?,
    )
    .ok()?;
    Some(time::PrimitiveDateTime::new(date, tm).assume_utc())
}

fn group(int: &str) -> String {
    let (sign, digits) = int.strip_prefix('-').map_or(("", int), |d| ("-", d));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    format!("{sign}{out}")
}

fn fixed(n: f64, decimals: usize, grouped: bool) -> String {
    let s = format!("{n:.decimals$}");
    let (int, frac) = s
        .split_once('.')
        .map_or((s.as_str(), None), |(a, b)| (a, Some(b)));
    let int = if grouped { group(int) } else { int.to_string() };
    match frac {
        Some(f) => format!("{int}.{f}"),
        None => int,
    }
}

fn number(n: f64, fmt: &str) -> Result<String, String> {
    let mut chars = fmt.chars();
    let kind = chars.next().unwrap_or('G');
    let digits: Option<usize> = chars.as_str().parse().ok().filter(|d| *d <= 30);
    let standard = chars.as_str().is_empty() || digits.is_some();
    if standard {
        match kind.to_ascii_uppercase() {
            'N' => return Ok(fixed(n, digits.unwrap_or(2), true)),
            'F' => return Ok(fixed(n, digits.unwrap_or(2), false)),
            'P' => return Ok(format!("{} %", fixed(n * 100.0, digits.unwrap_or(2), true))),
            'G' => return Ok(n.to_string()),
            'D' if n.fract() == 0.0 => {
                let w = digits.unwrap_or(0);
                let (sign, abs) = if n < 0.0 { ("-", -n) } else { ("", n) };
                return Ok(format!("{sign}{:0w$}", abs as i64));
            }
            'X' if n.fract() == 0.0 && n >= 0.0 => {
                let w = digits.unwrap_or(0);
                let v = n as u64;
                return Ok(if kind == 'x' {
                    format!("{v:0w$x}")
                } else {
                    format!("{v:0w$X}")
                });
            }
            _ => {}
        }
    }
    if fmt.contains('0') || fmt.contains('#') {
        let (int_pat, frac_pat) = fmt.split_once('.').unwrap_or((fmt, ""));
        let decimals = frac_pat.chars().filter(|c| *c == '0' || *c == '#').count();
        let min_frac = frac_pat.chars().filter(|c| *c == '0').count();
        let mut s = fixed(n, decimals, int_pat.contains(','));
        if decimals > min_frac && s.contains('.') {
            let keep = s.len() - (decimals - min_frac);
            while s.len() > keep && s.ends_with('0') {
                s.pop();
            }
            if s.ends_with('.') {
                s.pop();
            }
        }
        let min_int = int_pat.chars().filter(|c| *c == '0').count();
        let int_len = s
            .split('.')
            .next()
            .map_or(0, |i| i.trim_start_matches('-').len());
        if int_len < min_int {
            let pad = "0".repeat(min_int - int_len);
            s = match s.strip_prefix('-') {
                Some(r) => format!("-{pad}{r}"),
                None => format!("{pad}{s}"),
            };
        }
        return Ok(s);
    }
    Err(format!("'{fmt}' is not a number format this engine knows"))
}

fn date(d: OffsetDateTime, fmt: &str) -> Result<String, String> {
    let expanded = match fmt {
        "o" | "O" => "yyyy-MM-ddTHH:mm:ss.fffffffzzz",
        "s" => "yyyy-MM-ddTHH:mm:ss",
        "u" => "yyyy-MM-dd HH:mm:ssZ",
        "d" => "MM/dd/yyyy",
        "D" => "dddd, dd MMMM yyyy",
        "t" => "HH:mm",
        "T" => "HH:mm:ss",
        f if f.chars().count() == 1 => {
            return Err(format!("'{f}' is not a date format this engine knows"));
        }
        f => f,
    };
    let chars: Vec<char> = expanded.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let mut n = 1;
        while i + n < chars.len() && chars[i + n] == c {
            n += 1;
        }
        let off = d.offset();
        match c {
            'y' if n >= 3 => out.push_str(&format!("{:04}", d.year())),
            'y' => out.push_str(&format!("{:02}", d.year().rem_euclid(100))),
            'M' if n >= 4 => out.push_str(MONTHS[usize::from(u8::from(d.month())) - 1]),
            'M' if n == 3 => out.push_str(&MONTHS[usize::from(u8::from(d.month())) - 1][..3]),
            'M' => out.push_str(&pad(u8::from(d.month()).into(), n)),
            'd' if n >= 4 => out.push_str(DAYS[usize::from(d.weekday().number_days_from_monday())]),
            'd' if n == 3 => {
                out.push_str(&DAYS[usize::from(d.weekday().number_days_from_monday())][..3])
            }
            'd' => out.push_str(&pad(d.day().into(), n)),
            'H' => out.push_str(&pad(d.hour().into(), n)),
            'h' => out.push_str(&pad(((d.hour() + 11) % 12 + 1).into(), n)),
            'm' => out.push_str(&pad(d.minute().into(), n)),
            's' => out.push_str(&pad(d.second().into(), n)),
            'f' | 'F' => {
                let nanos = format!("{:09}", d.nanosecond());
                out.push_str(&format!("{nanos:0<n$}")[..n.min(9)]);
            }
            't' => out.push_str(if d.hour() < 12 { "AM" } else { "PM" }),
            'z' => {
                let (h, m, _) = off.as_hms();
                let sign = if off.is_negative() { '-' } else { '+' };
                out.push_str(&match n {
                    1 => format!("{sign}{}", h.abs()),
                    2 => format!("{sign}{:02}", h.abs()),
                    _ => format!("{sign}{:02}:{:02}", h.abs(), m.abs()),
                });
            }
            '\'' | '"' => {
                let end = chars[i + 1..]
                    .iter()
                    .position(|x| *x == c)
                    .map_or(chars.len(), |p| i + 1 + p);
                out.extend(&chars[i + 1..end]);
                i = end + 1;
                continue;
            }
            '\\' if i + 1 < chars.len() => {
                out.push(chars[i + 1]);
                i += 2;
                continue;
            }
            c => {
                for _ in 0..n {
                    out.push(c);
                }
            }
        }
        i += n;
    }
    Ok(out)
}

fn pad(v: u32, n: usize) -> String {
    format!("{v:0w$}", w = n.min(2))
}
