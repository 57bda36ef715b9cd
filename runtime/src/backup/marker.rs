//! `restored.json`: what `restore` leaves in the data directory it made, so the server knows
//! at its next starts that it runs on a backup (what happened after it is not here) and can
//! say so; a Space then asks its peers what they have seen from it (`reconciled` once done,
//! with what it found in `report`).

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{BackupError, io};

pub const FILE: &str = "restored.json";

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Restored {
    pub version: u32,
    pub backup_created_at: i64,
    pub restored_at: i64,
    pub reconciled: bool,
    /// What the reconciliation found, one line per peer.
    #[serde(default)]
    pub report: Vec<String>,
}

impl Restored {
    pub fn new(backup_created_at: i64) -> Self {
        Self {
            version: 1,
            backup_created_at,
            restored_at: domain::model::now(),
            reconciled: false,
            report: Vec::new(),
        }
    }

    /// The marker in `data_dir`, if this directory came from a restore.
    pub fn load(data_dir: &Path) -> Option<Self> {
        let bytes = std::fs::read(data_dir.join(FILE)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    pub fn save(&self, data_dir: &Path) -> Result<(), BackupError> {
        let path = data_dir.join(FILE);
        let tmp = path.with_extension("tmp");
        let bytes = serde_json::to_vec_pretty(self).unwrap_or_default();
        std::fs::write(&tmp, bytes).map_err(io("write", &tmp))?;
        std::fs::rename(&tmp, &path).map_err(io("write", &path))
    }

    /// One line for status and logs.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "restored {} from a backup taken {}",
            super::when(self.restored_at),
            super::when(self.backup_created_at)
        );
        if !self.reconciled {
            s.push_str("; asking peers what they have seen from this Space");
        }
        for line in &self.report {
            s.push_str("; ");
            s.push_str(line);
        }
        s
    }
}
