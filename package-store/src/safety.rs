//! Path and link safety rules for archive entries: name sanitising, link resolution, and the per-archive checker.

use std::collections::{HashMap, HashSet};

use super::PackageError;

/// How many symlinks deep a target may resolve through before we give up on it.
const MAX_LINK_DEPTH: u32 = 32;

/// What an entry is, once classified; anything else is refused while reading.
pub(crate) enum Kind {
    File,
    Dir,
    /// Target as stored, relative to the link's directory.
    Symlink(String),
    /// Target as stored (relative to the archive root) and sanitised.
    Hardlink(String, Vec<String>),
}

/// A symlink whose target, given every link in the archive, resolves outside the root.
pub(crate) struct EscapingLink {
    pub parts: Vec<String>,
    pub name: String,
    pub target: String,
}

impl EscapingLink {
    pub(crate) fn to_error(&self) -> PackageError {
        unsafe_link(&self.name, &self.target)
    }
}

pub(crate) fn unsafe_path(name: &str) -> PackageError {
    PackageError::UnsafePath {
        entry: name.to_string(),
    }
}

pub(crate) fn unsafe_link(name: &str, target: &str) -> PackageError {
    PackageError::UnsafePath {
        entry: format!("{name} -> {target}"),
    }
}

fn has_drive_prefix(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':'
}

fn is_absolute(s: &str) -> bool {
    s.starts_with('/') || s.starts_with('\\') || has_drive_prefix(s)
}

/// Splits an entry name into safe relative components, treating `/` and `\` both as
/// separators; absolute names and `..` components are [`PackageError::UnsafePath`].
pub(crate) fn sanitize(name: &str) -> Result<Vec<String>, PackageError> {
    if name.contains('\0') {
        return Err(PackageError::malformed(format!(
            "entry name {name:?} contains a NUL byte"
        )));
    }
    if is_absolute(name) {
        return Err(unsafe_path(name));
    }
    let mut parts = Vec::new();
    for part in name.split(['/', '\\']) {
        match part {
            "" | "." => {}
            ".." => return Err(unsafe_path(name)),
            p => parts.push(p.to_string()),
        }
    }
    Ok(parts)
}

/// Where `target` (a symlink target relative to the directory `base`) ends up, following the
/// archive's own symlinks; `None` if it leaves the root, is absolute, or loops.
fn resolve(
    links: &HashMap<Vec<String>, (String, String)>,
    mut cur: Vec<String>,
    target: &str,
    depth: u32,
) -> Option<Vec<String>> {
    if depth > MAX_LINK_DEPTH || target.is_empty() || is_absolute(target) {
        return None;
    }
    for part in target.split(['/', '\\']) {
        match part {
            "" | "." => {}
            ".." => {
                cur.pop()?;
            }
            p => {
                cur.push(p.to_string());
                if let Some((_, next)) = links.get(&cur) {
                    let mut parent = cur.clone();
                    parent.pop();
                    cur = resolve(links, parent, next, depth + 1)?;
                }
            }
        }
    }
    Some(cur)
}

/// Tracks what the archive has created so far, to catch entries that would write through a
/// symlink, links that escape, and file/directory conflicts.
#[derive(Default)]
pub(crate) struct Checker {
    links: HashMap<Vec<String>, (String, String)>,
    files: HashSet<Vec<String>>,
    dirs: HashSet<Vec<String>>,
}

impl Checker {
    fn conflict(name: &str, what: &str) -> PackageError {
        PackageError::malformed(format!("entry '{name}' {what}"))
    }

    pub(crate) fn check(
        &mut self,
        name: &str,
        parts: &[String],
        kind: &Kind,
    ) -> Result<(), PackageError> {
        for i in 1..parts.len() {
            let prefix = &parts[..i];
            if self.links.contains_key(prefix) {
                // Writing through a symlink could land anywhere.
                return Err(unsafe_path(name));
            }
            if self.files.contains(prefix) {
                return Err(Self::conflict(
                    name,
                    &format!("is inside '{}', which is a file", prefix.join("/")),
                ));
            }
            if !self.dirs.contains(prefix) {
                self.dirs.insert(prefix.to_vec());
            }
        }
        if parts.is_empty() {
            return match kind {
                Kind::Dir => Ok(()),
                _ => Err(PackageError::malformed(format!(
                    "entry '{name}' has no file name"
                ))),
            };
        }
        if !matches!(kind, Kind::Dir) && self.dirs.contains(parts) {
            return Err(Self::conflict(name, "replaces a directory"));
        }
        match kind {
            Kind::Dir => {
                if self.links.contains_key(parts) {
                    return Err(unsafe_path(name));
                }
                if self.files.contains(parts) {
                    return Err(Self::conflict(
                        name,
                        "is a directory but an earlier entry is a file",
                    ));
                }
                self.dirs.insert(parts.to_vec());
            }
            Kind::File => {
                self.links.remove(parts);
                self.files.insert(parts.to_vec());
            }
            Kind::Symlink(target) => {
                let parent = parts[..parts.len() - 1].to_vec();
                if resolve(&self.links, parent, target, 0).is_none() {
                    return Err(unsafe_link(name, target));
                }
                self.files.remove(parts);
                self.links
                    .insert(parts.to_vec(), (name.to_string(), target.clone()));
            }
            Kind::Hardlink(target, tparts) => {
                let through_link = (1..tparts.len()).any(|i| self.links.contains_key(&tparts[..i]));
                if through_link || self.links.contains_key(tparts.as_slice()) {
                    return Err(unsafe_link(name, target));
                }
                if !self.files.contains(tparts) {
                    return Err(Self::conflict(
                        name,
                        &format!(
                            "is a hard link to '{target}', which is not a file earlier in the archive"
                        ),
                    ));
                }
                self.links.remove(parts);
                self.files.insert(parts.to_vec());
            }
        }
        Ok(())
    }

    /// Symlinks that escape once every link in the archive is known (a later link can change
    /// where an earlier one points), sorted by path.
    pub(crate) fn escaping_links(&self) -> Vec<EscapingLink> {
        let mut out: Vec<EscapingLink> = self
            .links
            .iter()
            .filter(|(parts, (_, target))| {
                resolve(&self.links, parts[..parts.len() - 1].to_vec(), target, 0).is_none()
            })
            .map(|(parts, (name, target))| EscapingLink {
                parts: parts.clone(),
                name: name.clone(),
                target: target.clone(),
            })
            .collect();
        out.sort_by(|a, b| a.parts.cmp(&b.parts));
        out
    }
}
