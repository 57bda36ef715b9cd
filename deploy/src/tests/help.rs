//! Every command says what it does and every option what it means (`deploy --help` is the
//! manual a new user has); the global options stand under their own heading.

use clap::CommandFactory;

use crate::Cli;

fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
    for a in cmd.get_arguments() {
        let id = a.get_id().as_str();
        if id == "help" || id == "version" || a.is_positional() {
            continue;
        }
        if a.get_help().is_none() && a.get_long_help().is_none() {
            missing.push(format!("{path} --{id}: no help text"));
        }
    }
    for s in cmd.get_subcommands() {
        let sub = format!("{path} {}", s.get_name());
        if s.get_name() != "help" && s.get_about().is_none() {
            missing.push(format!("{sub}: no description"));
        }
        walk(s, &sub, missing);
    }
}

#[test]
fn every_command_and_option_has_help() {
    let mut missing = Vec::new();
    walk(&Cli::command(), "deploy", &mut missing);
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}

#[test]
fn global_options_stand_under_their_own_heading() {
    let cmd = Cli::command();
    for a in cmd.get_arguments().filter(|a| a.is_global_set()) {
        let heading = a.get_help_heading().unwrap_or_default();
        assert!(
            heading == crate::GLOBAL || heading == crate::SPACE,
            "--{} is global but under '{heading}'",
            a.get_id()
        );
    }
}

#[test]
fn odcm_help_lists_its_own_connection_not_the_spaces() {
    let mut cmd = crate::command();
    cmd.build();
    for path in [&["odcm"][..], &["odcm", "trust", "add"]] {
        let mut c = &mut cmd;
        for p in path {
            c = c.find_subcommand_mut(p).expect("subcommand");
        }
        let help = c.render_long_help().to_string();
        assert!(help.contains("--odcm-server"), "{help}");
        assert!(!help.contains("--server-fingerprint"), "{help}");
        assert!(!help.contains("--api-key"), "{help}");
        assert!(help.contains("--output"), "{help}");
    }
    let mut project = cmd.find_subcommand_mut("project").expect("project").clone();
    assert!(project.render_long_help().to_string().contains("--server"));
}

#[test]
fn global_options_given_after_a_subcommand_count_under_odcm_too() {
    use clap::FromArgMatches;
    for args in [
        &["deploy", "odcm", "space", "list", "-o", "json"][..],
        &["deploy", "-o", "json", "odcm", "space", "list"],
        &["deploy", "project", "list", "-o", "json"],
    ] {
        let m = crate::command().try_get_matches_from(args).expect("parse");
        let cli = Cli::from_arg_matches(&m).expect("cli");
        assert!(cli.output == crate::output::Format::Json, "{args:?}");
    }
}
