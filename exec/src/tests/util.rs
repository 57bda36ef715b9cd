//! Test helpers: archives, variables, jobs and a recording log sink.

use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::write::GzEncoder;

use super::*;
use domain::model::{ScriptSource, ScriptSyntax};
use domain::variables::{Candidate, DeployContext, resolve};
use package_store::ArchiveFormat;

/// A tar.gz of `(path, content, mode)` files.
pub(crate) fn tar_gz(files: &[(&str, &str, u32)]) -> Vec<u8> {
    let gz = GzEncoder::new(Vec::new(), Compression::fast());
    let mut b = tar::Builder::new(gz);
    for (path, data, mode) in files {
        let mut h = tar::Header::new_gnu();
        h.set_path(path).unwrap();
        h.set_size(data.len() as u64);
        h.set_mode(*mode);
        h.set_mtime(1_700_000_000);
        h.set_entry_type(tar::EntryType::Regular);
        h.set_cksum();
        b.append(&h, data.as_bytes()).unwrap();
    }
    b.into_inner().unwrap().finish().unwrap()
}

/// Variables from `(name, value, sensitive)`.
pub(crate) fn vars(list: &[(&str, &str, bool)]) -> Resolved {
    let cands: Vec<Candidate> = list
        .iter()
        .map(|(n, v, s)| Candidate {
            sensitive: *s,
            ..Candidate::new(*n, *v)
        })
        .collect();
    resolve(&cands, &DeployContext::default())
}

/// A temporary applications + work directory.
pub(crate) struct Fixture {
    pub dir: tempfile::TempDir,
    pub cfg: ExecConfig,
}

impl Fixture {
    pub fn new(retention: Option<usize>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let cfg = ExecConfig {
            applications_dir: dir.path().join("apps"),
            work_dir: dir.path().join("work"),
            retention,
        };
        Fixture { dir, cfg }
    }

    /// Writes a package archive and returns it as a [`PackageInput`].
    pub fn package(&self, id: &str, version: &str, files: &[(&str, &str, u32)]) -> PackageInput {
        let path = self.dir.path().join(format!("{id}.{version}.tar.gz"));
        std::fs::write(&path, tar_gz(files)).unwrap();
        PackageInput {
            id: id.into(),
            version: version.into(),
            format: ArchiveFormat::TarGz,
            archive: path,
        }
    }

    pub fn run(&self, job: &StepJob) -> (StepOutcome, Vec<(LogStream, String)>) {
        let mut log = Vec::new();
        let outcome = run_step(job, &self.cfg, &mut log, &Cancel::new());
        (outcome, log)
    }

    pub fn journal(&self) -> Vec<JournalEntry> {
        read_journal(&self.cfg.work_dir).unwrap()
    }

    pub fn tmp_entries(&self) -> usize {
        std::fs::read_dir(self.cfg.work_dir.join("tmp"))
            .map(|rd| rd.count())
            .unwrap_or(0)
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }
}

pub(crate) fn job(
    action: StepAction,
    package: Option<PackageInput>,
    variables: Resolved,
) -> StepJob {
    StepJob {
        deployment_id: "Deployments-7".into(),
        project: "Acme".into(),
        environment: "Production".into(),
        tenant: None,
        step_name: "Deploy web".into(),
        action,
        package,
        variables,
    }
}

pub(crate) fn inline(syntax: ScriptSyntax, body: &str) -> StepAction {
    StepAction::RunScript {
        syntax,
        source: ScriptSource::Inline(body.into()),
    }
}

pub(crate) fn deploy_action(id: &str, subst: &[&str], structured: &[&str]) -> StepAction {
    StepAction::DeployPackage {
        package_id: id.into(),
        substitute_files: subst.iter().map(|s| s.to_string()).collect(),
        structured_files: structured.iter().map(|s| s.to_string()).collect(),
    }
}

/// The text of every line of `stream`.
pub(crate) fn lines(log: &[(LogStream, String)], stream: LogStream) -> Vec<String> {
    log.iter()
        .filter(|(s, _)| *s == stream)
        .map(|(_, t)| t.clone())
        .collect()
}

/// Whether any logged line contains `needle`.
pub(crate) fn logged(log: &[(LogStream, String)], needle: &str) -> bool {
    log.iter().any(|(_, t)| t.contains(needle))
}

pub(crate) fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}
