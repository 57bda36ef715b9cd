//! What Spaces record about promotions: bundles sent and received, receipts sent and received.

use serde::{Deserialize, Serialize};

use super::{RunState, Timestamp};

/// A Release Bundle this Space wrote for another Space (the source side).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Promotion {
    pub bundle_id: String,
    /// `sha256:<hex>` of the signed payload; receipts name it.
    pub digest: String,
    pub project: String,
    pub version: String,
    pub target_space: String,
    pub created_at: Timestamp,
    pub created_by: String,
}

/// Where a received bundle stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum BundleState {
    Pending,
    Imported {
        at: Timestamp,
        by: String,
        /// The Remote Project it went to.
        project: String,
    },
}

impl BundleState {
    pub fn as_str(&self) -> &'static str {
        match self {
            BundleState::Pending => "pending",
            BundleState::Imported { .. } => "imported",
        }
    }
}

/// A Release Bundle received by this Space (the target side). The file itself is kept in
/// `<data>/bundles/<id>.json`, verified again on every use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceivedBundle {
    pub id: String,
    pub digest: String,
    pub source_space: String,
    pub project: String,
    pub version: String,
    pub created_at: Timestamp,
    pub added_at: Timestamp,
    pub added_by: String,
    pub bytes: u64,
    pub state: BundleState,
}

/// Marks a deployment whose receipt was exported (target side).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptSent {
    pub deployment: u64,
    pub to_space: String,
    pub at: Timestamp,
}

/// A step's result as a receipt reported it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteStep {
    pub name: String,
    pub state: RunState,
    pub targets: u32,
    pub failed_targets: u32,
}

/// A deployment result received in a Deployment Receipt (source side), applied exactly once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteResult {
    pub from_space: String,
    /// The receipt's id in the issuing Space.
    pub receipt_id: String,
    pub bundle_digest: String,
    pub project: String,
    pub version: String,
    /// The remote environment here: "Prod: Production".
    pub environment: String,
    pub state: RunState,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
    pub steps: Vec<RemoteStep>,
    pub targets: u32,
    pub received_at: Timestamp,
    /// `sha256:<hex>` of the receipts file payload it came in.
    pub file_digest: String,
}

/// Where an automatic promotion stands (the source side's queue).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PromotionJobState {
    /// Waiting for its turn, or for the peer to answer again (`last_error` says why).
    Queued,
    /// The bundle was offered and added at the target.
    Offered {
        bundle_id: String,
        chunks_missing: u32,
    },
    /// Refused for a reason retrying will not change; a person promotes by hand.
    Failed,
}

/// A release to promote to a Space without a person: queued when an automatic phase naming
/// the Space (or one of its remote environments) becomes due, retried with backoff while the
/// Space cannot be reached.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromotionJob {
    pub project: String,
    pub version: String,
    pub target_space: String,
    pub state: PromotionJobState,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub next_attempt_at: Timestamp,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// What queued it ("release creation", a deployment that completed a phase, ...).
    pub trigger: String,
}

/// The target's choice for bundles from a trusted Space: imported with `lifecycle` as soon as
/// their packages are complete (without a rule, bundles stay pending).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AutoImportRule {
    pub source_space: String,
    /// Empty: every project of that Space.
    pub project: String,
    pub lifecycle: String,
    pub created_at: Timestamp,
    pub created_by: String,
}

/// When this Space last heard from another Space (a verified call either way, a receipt, or
/// a heartbeat answer), and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerContact {
    pub space: String,
    pub last_heard: Timestamp,
    pub via: String,
}

/// Where a deployment asked for at a chosen time stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ScheduledState {
    Scheduled,
    Started {
        deployment_id: String,
    },
    /// Refused when its time came (the lifecycle, a missing value, ...).
    Failed {
        reason: String,
    },
}

/// A deployment of a release to an environment at a time of a person's choosing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduledDeployment {
    pub project: String,
    pub version: String,
    pub environment: String,
    pub at: Timestamp,
    pub state: ScheduledState,
    pub created_at: Timestamp,
    pub created_by: String,
    /// Deploy for this tenant (record version 2; absent in version 1: untenanted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
}

/// One deployment of a release already done in an earlier Space (carried by bundles).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeploymentSummary {
    pub space: String,
    pub environment: String,
    pub state: RunState,
    pub finished_at: Option<Timestamp>,
}

/// Where an imported release came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseOrigin {
    pub source_space: String,
    /// The project's name in the source Space.
    pub source_project: String,
    pub bundle_id: String,
    /// `sha256:<hex>` of the signed bundle payload; receipts name it.
    pub bundle_digest: String,
    /// Certificate fingerprint that signed the bundle.
    pub signer: String,
    pub imported_at: Timestamp,
    pub imported_by: String,
    /// Deployments done in earlier Spaces, as the bundle reported them.
    pub deployments: Vec<DeploymentSummary>,
    /// W3C `traceparent` of the promotion.
    pub traceparent: String,
    /// Where the release was first made when the sender had imported it too (a chain): the
    /// Remote Project is named after it. Empty: `source_space` / `source_project`.
    #[serde(default)]
    pub first_space: String,
    #[serde(default)]
    pub first_project: String,
    /// The hops before `source_space`, first Space first (a chain Dev -> QA -> Ops: at Ops,
    /// the hop from Dev to QA). Receipts name them so they can be relayed back hop by hop.
    #[serde(default)]
    pub route: Vec<RouteHop>,
}

/// One hop a release took on its way here: the Space that sent a bundle, the project's name
/// there, and the bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteHop {
    pub space: String,
    pub project: String,
    pub bundle_id: String,
    /// `sha256:<hex>` of the signed bundle payload.
    pub bundle_digest: String,
}

impl ReleaseOrigin {
    /// The Space and project where the release was first made.
    pub fn first(&self) -> (&str, &str) {
        if self.first_space.is_empty() {
            (&self.source_space, &self.source_project)
        } else {
            (&self.first_space, &self.first_project)
        }
    }
}

/// A receipts file another Space signed, waiting here to be passed on (unchanged, still
/// signed by it) to the Space before this one on the route of the releases it answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelayedReceipts {
    pub to_space: String,
    /// The Space that signed the file.
    pub from_space: String,
    /// When the signer signed it: files from one signer leave in this order.
    pub created_at: Timestamp,
    /// `sha256:<hex>` of the signed payload.
    pub digest: String,
    /// The signed file (a DSSE envelope, JSON text).
    pub envelope: String,
    pub received_at: Timestamp,
}

/// Where packages staged ahead of a promotion stand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum StagingState {
    /// Waiting for its turn, or for the peer to answer again (`last_error` says why).
    Queued,
    /// The target was told which chunks the release needs; it fetches those it lacks.
    Staged { chunks_missing: u64 },
    /// Refused for a reason retrying will not change (the promotion still moves them).
    Failed,
}

/// A release's packages to replicate to a Space ahead of its promotion (a lifecycle phase
/// with `prestage` names the Space): queued when the release exists, offered with backoff.
/// The target fetches the chunks by `id`, which the source serves only to that Space.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StagingJob {
    pub id: String,
    pub project: String,
    pub version: String,
    pub target_space: String,
    pub state: StagingState,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub next_attempt_at: Timestamp,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}
