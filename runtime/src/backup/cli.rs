//! The `backup` and `restore` subcommands `space-server` and `odcm` share.

use std::path::PathBuf;

use super::{BackupError, Chunks, RestoreFrom};
use crate::control::BackupRequest;

#[derive(Debug, Clone, clap::Args)]
pub struct BackupArgs {
    /// Where to write the backup (0600).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Put the private keys in the backup too (then keep the file like a key). Without
    /// them, `restore` needs `--keys-from` with the key files.
    #[arg(long)]
    pub include_keys: bool,
    /// Put the package chunks in the backup ("included"), or only their names
    /// ("referenced": copy the chunks/ directory yourself and give it to restore).
    #[arg(long, value_enum, default_value = "included")]
    pub chunks: ChunksArg,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ChunksArg {
    Included,
    Referenced,
}

#[derive(Debug, Clone, clap::Args)]
pub struct RestoreArgs {
    /// The backup file.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// A directory holding the private key files the backup left out (same names).
    #[arg(long, value_name = "DIR")]
    pub keys_from: Option<PathBuf>,
    /// A copy of the old chunks/ directory, for a backup that kept chunks by reference.
    #[arg(long, value_name = "DIR")]
    pub chunks_from: Option<PathBuf>,
    /// Refuse the backup unless this certificate fingerprint signed it (printed by `backup`).
    #[arg(long, value_name = "SHA256")]
    pub signer: Option<String>,
}

/// Runs `backup` for the server whose data directory is `data_dir`.
pub fn backup(
    kind: &str,
    name: &str,
    data_dir: &std::path::Path,
    signers: &[(&str, &str)],
    a: &BackupArgs,
) -> Result<(), BackupError> {
    let req = BackupRequest {
        out: a.out.clone(),
        include_keys: a.include_keys,
        chunks: match a.chunks {
            ChunksArg::Included => Chunks::Included,
            ChunksArg::Referenced => Chunks::Referenced,
        },
    };
    let s = super::command(kind, name, data_dir, signers, &req)?;
    let (cert, _) = super::signer(data_dir, signers)?;
    let fp = net::pki::CertInfo::from_pem(&cert)
        .map(|c| c.fingerprint)
        .unwrap_or_default();
    println!(
        "Backup written to {}: {} rows, {} files, {} chunks ({}), {} bytes before compression",
        a.out.display(),
        s.rows,
        s.files,
        s.chunks,
        if req.chunks == Chunks::Included {
            "included"
        } else {
            "by reference"
        },
        s.bytes
    );
    println!("Signed by {fp}");
    if s.keys_included {
        println!("THIS FILE HOLDS THE PRIVATE KEYS: keep it as you keep the keys");
    } else {
        println!("Private keys are not in it: restore needs --keys-from DIR with them");
    }
    Ok(())
}

/// Runs `restore` into `data_dir`.
pub fn restore(data_dir: &std::path::Path, a: &RestoreArgs) -> Result<(), BackupError> {
    let r = super::restore(
        &a.file,
        data_dir,
        &RestoreFrom {
            keys: a.keys_from.as_deref(),
            chunks: a.chunks_from.as_deref(),
            signer: a.signer.as_deref(),
        },
    )?;
    println!(
        "Restored {} '{}' as of {} into {}: {} rows, {} files, {} chunks",
        r.header.kind,
        r.header.name,
        crate::backup::when(r.header.created_at),
        data_dir.display(),
        r.rows,
        r.files,
        r.chunks - r.missing_chunks.len() as u64
    );
    println!("Signed by {}", r.signer_fingerprint);
    if !r.missing_chunks.is_empty() {
        println!(
            "{} chunk(s) kept by reference are missing: copy the old chunks/ directory into {}/chunks (packages needing them are refused as damaged until then)",
            r.missing_chunks.len(),
            data_dir.display()
        );
    }
    println!(
        "Anything done after the backup was taken is not in it: peers and the ODCM may have seen more (the ODCM's audit checkpoints will say so)"
    );
    Ok(())
}
