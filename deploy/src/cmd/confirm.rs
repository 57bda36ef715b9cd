//! Confirmation before destructive commands (delete project, environment, target,
//! lifecycle): what else goes with the thing is said first; on a terminal the user answers,
//! a script passes `--yes` (without a terminal and without `--yes`, nothing is deleted).

use std::io::{BufRead, IsTerminal, Write};

use anyhow::bail;
use proto::space::v1 as pb;

use super::{Env, all_pages};

/// Asks to confirm `what` (e.g. "delete project 'Web'"), naming what goes with it.
pub fn confirm(what: &str, also: &[String], yes: bool) -> anyhow::Result<()> {
    let terminal = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    ask(
        what,
        also,
        yes,
        terminal.then(|| std::io::stdin().lock()),
        &mut std::io::stderr(),
    )
}

/// [`confirm`] with the terminal given: `None` when there is none to ask on.
fn ask(
    what: &str,
    also: &[String],
    yes: bool,
    terminal: Option<impl BufRead>,
    prompt: &mut impl Write,
) -> anyhow::Result<()> {
    if yes {
        return Ok(());
    }
    let also = if also.is_empty() {
        String::new()
    } else {
        format!(" (with {})", also.join(", "))
    };
    let what = crate::output::cell(what);
    let Some(mut input) = terminal else {
        bail!("{what}{also}: pass --yes to confirm (there is no terminal to ask on)");
    };
    write!(prompt, "{what}{also}? [y/N] ")?;
    prompt.flush()?;
    let mut answer = String::new();
    input.read_line(&mut answer)?;
    if matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
        Ok(())
    } else {
        bail!("nothing was deleted")
    }
}

fn count(n: usize, one: &str) -> Option<String> {
    (n > 0).then(|| format!("{n} {one}{}", if n == 1 { "" } else { "s" }))
}

/// What deleting project `name` also deletes: channels, steps, variables, releases.
pub async fn project_parts(x: &Env, name: &str) -> anyhow::Result<Vec<String>> {
    let c = &x.client;
    let project = name.to_string();
    let channels = all_pages(|t| {
        let mut api = c.channels.clone();
        let r = c.req(pb::ProjectPage {
            project: project.clone(),
            page: Some(super::page(t)),
        });
        async move {
            let r = c.call(api.list(r)).await?;
            Ok((r.channels, r.next_page_token))
        }
    })
    .await?;
    let mut process = c.process.clone();
    let steps = c
        .call(process.list(c.req(pb::ByName {
            name: project.clone(),
        })))
        .await?
        .steps;
    let variables = all_pages(|t| {
        let mut api = c.variables.clone();
        let r = c.req(pb::ProjectPage {
            project: project.clone(),
            page: Some(super::page(t)),
        });
        async move {
            let r = c.call(api.list(r)).await?;
            Ok((r.variables, r.next_page_token))
        }
    })
    .await?;
    let releases = all_pages(|t| {
        let mut api = c.releases.clone();
        let r = c.req(pb::ProjectPage {
            project: project.clone(),
            page: Some(super::page(t)),
        });
        async move {
            let r = c.call(api.list(r)).await?;
            Ok((r.releases, r.next_page_token))
        }
    })
    .await?;
    Ok([
        count(channels.len(), "channel"),
        count(steps.len(), "step"),
        count(variables.len(), "variable value"),
        count(releases.len(), "release"),
    ]
    .into_iter()
    .flatten()
    .collect())
}

/// The targets serving environment `name` (they lose it; one serving only it stays with none).
pub async fn environment_parts(x: &Env, name: &str) -> anyhow::Result<Vec<String>> {
    let c = &x.client;
    let env = name.to_string();
    let targets = all_pages(|t| {
        let mut api = c.targets.clone();
        let r = c.req(pb::ListTargetsRequest {
            environment: env.clone(),
            page: Some(super::page(t)),
        });
        async move {
            let r = c.call(api.list(r)).await?;
            Ok((r.targets, r.next_page_token))
        }
    })
    .await?;
    Ok(match targets.len() {
        0 => Vec::new(),
        1 => vec!["1 target that serves it".into()],
        n => vec![format!("{n} targets that serve it")],
    })
}

#[cfg(test)]
mod tests {
    use super::ask;

    #[test]
    fn a_terminal_is_asked_a_script_must_say_yes() {
        let also = vec!["2 channels".to_string(), "1 release".to_string()];
        let mut shown = Vec::new();
        assert!(
            ask(
                "delete project 'Web'",
                &also,
                false,
                Some(&b"y\n"[..]),
                &mut shown
            )
            .is_ok()
        );
        assert_eq!(
            String::from_utf8(shown).unwrap(),
            "delete project 'Web' (with 2 channels, 1 release)? [y/N] "
        );
        for no in [&b"n\n"[..], b"\n", b""] {
            let e = ask("delete x", &[], false, Some(no), &mut Vec::new()).unwrap_err();
            assert_eq!(e.to_string(), "nothing was deleted");
        }
        let e = ask("delete x", &also, false, None::<&[u8]>, &mut Vec::new()).unwrap_err();
        assert!(e.to_string().contains("pass --yes"), "{e}");
        assert!(ask("delete x", &also, true, None::<&[u8]>, &mut Vec::new()).is_ok());
    }
}
