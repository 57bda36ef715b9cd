//! Structured variables: replacing values in JSON and YAML files by `A:B:0:C` paths.

use std::path::Path;

use serde_json::Value as Json;
use serde_yaml::Value as Yaml;

use super::Ctx;
use super::package::{inside_root, safe_join, write_preserving_mode};

/// Applies every variable whose name contains `:` to each of `files` (relative to `root`).
pub(crate) fn apply(ctx: &mut Ctx<'_>, root: &Path, files: &[String]) -> Result<(), String> {
    if files.is_empty() {
        return Ok(());
    }
    let vars: Vec<(String, String)> = ctx
        .expanded()
        .into_iter()
        .filter(|v| v.name.contains(':'))
        .map(|v| (v.name, v.value))
        .collect();
    for rel in files {
        let path =
            safe_join(root, rel).map_err(|e| format!("structured_files entry '{rel}' {e}"))?;
        if !path.is_file() {
            ctx.warn(&format!(
                "structured variables: file '{rel}' is not in the package; skipped"
            ));
            continue;
        }
        if !inside_root(root, &path) {
            ctx.warn(&format!(
                "structured variables: '{rel}' leads outside the extraction directory; skipped"
            ));
            continue;
        }
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .unwrap_or_default();
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read structured file '{rel}': {e}"))?;
        let (count, new_text) =
            match ext.as_str() {
                "json" => apply_json(&text, &vars)
                    .map_err(|e| format!("'{rel}' is not valid JSON: {e}"))?,
                "yaml" | "yml" => apply_yaml(&text, &vars)
                    .map_err(|e| format!("'{rel}' is not valid YAML: {e}"))?,
                _ => {
                    return Err(format!(
                        "structured file '{rel}' must end in .json, .yaml or .yml"
                    ));
                }
            };
        if count == 0 {
            ctx.info(&format!(
                "structured variables: nothing to replace in '{rel}'"
            ));
            continue;
        }
        write_preserving_mode(&path, new_text.as_bytes())
            .map_err(|e| format!("cannot write structured file '{rel}': {e}"))?;
        ctx.info(&format!(
            "structured variables: replaced {count} value(s) in '{rel}'"
        ));
    }
    Ok(())
}

/// Replaces values in a JSON document; returns how many changed and the new text.
pub(crate) fn apply_json(text: &str, vars: &[(String, String)]) -> Result<(usize, String), String> {
    let mut doc: Json = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let mut count = 0;
    for (name, value) in vars {
        let path: Vec<&str> = name.split(':').collect();
        if let Some(target) = find_json(&mut doc, &path) {
            let new = json_value(target, value);
            if *target != new {
                *target = new;
                count += 1;
            }
        }
    }
    if count == 0 {
        return Ok((0, text.to_string()));
    }
    let mut out = serde_json::to_string_pretty(&doc).map_err(|e| e.to_string())?;
    out.push('\n');
    Ok((count, out))
}

/// Replaces values in a YAML document; returns how many changed and the new text.
pub(crate) fn apply_yaml(text: &str, vars: &[(String, String)]) -> Result<(usize, String), String> {
    let mut doc: Yaml = serde_yaml::from_str(text).map_err(|e| e.to_string())?;
    let mut count = 0;
    for (name, value) in vars {
        let path: Vec<&str> = name.split(':').collect();
        if let Some(target) = find_yaml(&mut doc, &path) {
            let new = yaml_value(target, value);
            if *target != new {
                *target = new;
                count += 1;
            }
        }
    }
    if count == 0 {
        return Ok((0, text.to_string()));
    }
    let out = serde_yaml::to_string(&doc).map_err(|e| e.to_string())?;
    Ok((count, out))
}

fn find_json<'v>(v: &'v mut Json, path: &[&str]) -> Option<&'v mut Json> {
    let Some((first, rest)) = path.split_first() else {
        return Some(v);
    };
    let next = match v {
        Json::Object(map) => {
            let key = if map.contains_key(*first) {
                first.to_string()
            } else {
                map.keys().find(|k| k.eq_ignore_ascii_case(first))?.clone()
            };
            map.get_mut(&key)?
        }
        Json::Array(items) => items.get_mut(first.trim().parse::<usize>().ok()?)?,
        _ => return None,
    };
    find_json(next, rest)
}

/// The replacement for `old`: same type where the new text parses as that type, else a string.
fn json_value(old: &Json, new: &str) -> Json {
    let parsed = || serde_json::from_str::<Json>(new.trim()).ok();
    let kept = match old {
        Json::Number(_) => parsed().filter(Json::is_number),
        Json::Bool(_) => parse_bool(new).map(Json::Bool),
        Json::Object(_) => parsed().filter(Json::is_object),
        Json::Array(_) => parsed().filter(Json::is_array),
        Json::String(_) | Json::Null => None,
    };
    kept.unwrap_or_else(|| Json::String(new.to_string()))
}

fn parse_bool(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

/// The text a YAML mapping key is matched by (strings, numbers and booleans).
fn key_text(k: &Yaml) -> Option<String> {
    match k {
        Yaml::String(s) => Some(s.clone()),
        Yaml::Number(n) => Some(n.to_string()),
        Yaml::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn find_yaml<'v>(v: &'v mut Yaml, path: &[&str]) -> Option<&'v mut Yaml> {
    let Some((first, rest)) = path.split_first() else {
        return Some(v);
    };
    let next = match v {
        Yaml::Mapping(map) => {
            let keys: Vec<(Yaml, String)> = map
                .keys()
                .filter_map(|k| key_text(k).map(|t| (k.clone(), t)))
                .collect();
            let key = keys
                .iter()
                .find(|(_, t)| t == first)
                .or_else(|| keys.iter().find(|(_, t)| t.eq_ignore_ascii_case(first)))?
                .0
                .clone();
            map.get_mut(&key)?
        }
        Yaml::Sequence(items) => items.get_mut(first.trim().parse::<usize>().ok()?)?,
        Yaml::Tagged(tagged) => return find_yaml(&mut tagged.value, path),
        _ => return None,
    };
    find_yaml(next, rest)
}

/// The replacement for `old`, with the same typing rule as [`json_value`].
fn yaml_value(old: &Yaml, new: &str) -> Yaml {
    let parsed = || serde_yaml::from_str::<Yaml>(new.trim()).ok();
    let kept = match old {
        Yaml::Number(_) => parsed().filter(Yaml::is_number),
        Yaml::Bool(_) => parse_bool(new).map(Yaml::Bool),
        Yaml::Mapping(_) => serde_json::from_str::<Json>(new.trim())
            .ok()
            .filter(Json::is_object)
            .and_then(|_| parsed())
            .filter(Yaml::is_mapping),
        Yaml::Sequence(_) => serde_json::from_str::<Json>(new.trim())
            .ok()
            .filter(Json::is_array)
            .and_then(|_| parsed())
            .filter(Yaml::is_sequence),
        Yaml::Tagged(t) => return yaml_value(&t.value, new),
        Yaml::String(_) | Yaml::Null => None,
    };
    kept.unwrap_or_else(|| Yaml::String(new.to_string()))
}
