//! The `space.v1.Promotion` handlers of connected Spaces running themselves: automatic and
//! scheduled promotions, packages staged ahead, automatic import rules (they convert and call
//! `crate::automation`), and the results received in receipts.

use proto::space::v1 as pb;

use super::api::PromotionApi;
use crate::api::{Resp, ok};
use crate::auth::caller;
use crate::error::ApiError;
use crate::permits::Viewer;
use domain::access::{Need, Permission};

/// An automatic import rule needs import-bundles in the Remote Project it imports into, or
/// in every project for a rule taking every project of the Space.
fn may_rule(api: &PromotionApi, req: &tonic::Request<pb::AutoImportRule>) -> Result<(), ApiError> {
    let r = req.get_ref();
    let need = if r.project.trim().is_empty() {
        Need::every_project(Permission::ImportBundles)
    } else {
        // The Remote Project's name, as the import names it: "<Space>: <project>".
        let remote = format!("{}: {}", r.source_space.trim(), r.project.trim());
        Need::in_project(Permission::ImportBundles, &remote)
    };
    crate::permits::require(&api.service.engine.state, req, need)
}

pub(super) async fn list_promotions(
    api: &PromotionApi,
    req: tonic::Request<pb::ListPromotionsRequest>,
) -> Resp<pb::ListPromotionsResponse> {
    let state = &api.service.engine.state;
    let viewer = Viewer::of(state, &req)?;
    let pb::ListPromotionsRequest {
        page_size,
        page_token,
        project,
        version,
    } = req.into_inner();
    let page = crate::api::page(Some(pb::PageRequest {
        page_size,
        page_token,
    }))?;
    let of = crate::automation::queue::Of::new(&project, &version)?;
    let stagings = match page.after {
        None => crate::automation::stage::recent(state)?
            .into_iter()
            .filter(|j| of.matches(&j.project, &j.version))
            .collect(),
        Some(_) => Vec::new(),
    };
    let l = crate::automation::queue::list(state, &of, page)?;
    ok(pb::ListPromotionsResponse {
        promotions: l
            .items
            .into_iter()
            .filter(|j| viewer.sees_project(&j.job.project))
            .map(super::api_wire::job_wire)
            .collect(),
        next_page_token: crate::api::token(l.next),
        stagings: stagings
            .into_iter()
            .map(super::api_wire::staging_wire)
            .collect(),
    })
}

pub(super) async fn list_received_results(
    api: &PromotionApi,
    req: tonic::Request<pb::PageRequest>,
) -> Resp<pb::ListReceivedResultsResponse> {
    let viewer = Viewer::of(&api.service.engine.state, &req)?;
    let page = crate::api::page(Some(req.into_inner()))?;
    let l = super::remote_index::received(&api.service.engine.state, page)?;
    ok(pb::ListReceivedResultsResponse {
        results: l
            .items
            .into_iter()
            .filter(|(r, _)| viewer.sees(&r.project, &r.environment, None))
            .map(|(r, deleted)| super::api_wire::received_wire(r, deleted))
            .collect(),
        next_page_token: crate::api::token(l.next),
    })
}

pub(super) async fn queue_promotion(
    api: &PromotionApi,
    req: tonic::Request<pb::QueuePromotionRequest>,
) -> Resp<pb::PromotionJob> {
    api.may_promote(&req, &req.get_ref().project, &req.get_ref().to_space)?;
    let who = caller(&req).name;
    let pb::QueuePromotionRequest {
        project,
        version,
        to_space,
        at,
    } = req.into_inner();
    let at = at.map_or_else(crate::state::now, |t| t.seconds);
    let v = crate::automation::queue::schedule(
        &api.service.engine.state,
        &project,
        &version,
        &to_space,
        at,
        &who,
    )
    .await?;
    ok(super::api_wire::job_wire(v))
}

pub(super) async fn cancel_promotion(
    api: &PromotionApi,
    req: tonic::Request<pb::PromotionJobRef>,
) -> Resp<pb::Empty> {
    api.may_promote(&req, &req.get_ref().project, &req.get_ref().to_space)?;
    let pb::PromotionJobRef {
        project,
        version,
        to_space,
    } = req.into_inner();
    crate::automation::queue::cancel(&api.service.engine.state, &project, &version, &to_space)
        .await?;
    ok(pb::Empty {})
}

pub(super) async fn set_auto_import(
    api: &PromotionApi,
    req: tonic::Request<pb::AutoImportRule>,
) -> Resp<pb::AutoImportRule> {
    may_rule(api, &req)?;
    let who = caller(&req).name;
    let pb::AutoImportRule {
        source_space,
        project,
        lifecycle,
        created_at: _,
        created_by: _,
    } = req.into_inner();
    let r = api
        .auto_import()
        .set(&source_space, &project, &lifecycle, &who)
        .await?;
    ok(super::api_wire::rule_wire(r))
}

pub(super) async fn list_auto_imports(
    api: &PromotionApi,
    _req: tonic::Request<pb::Empty>,
) -> Resp<pb::ListAutoImportsResponse> {
    let rules = api.auto_import().list()?;
    ok(pb::ListAutoImportsResponse {
        rules: rules.into_iter().map(super::api_wire::rule_wire).collect(),
    })
}

pub(super) async fn delete_auto_import(
    api: &PromotionApi,
    req: tonic::Request<pb::AutoImportRule>,
) -> Resp<pb::Empty> {
    may_rule(api, &req)?;
    let pb::AutoImportRule {
        source_space,
        project,
        ..
    } = req.into_inner();
    api.auto_import().delete(&source_space, &project).await?;
    ok(pb::Empty {})
}
