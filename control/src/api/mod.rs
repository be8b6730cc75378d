//! The routes (SPEC §8), registered through `utoipa-axum` so `/openapi.json` is generated from the
//! same definitions that serve. Each submodule owns one family of routes; [`common`] owns the
//! shared extractors (JSON bodies with our error shape, `If-Match`) and the transaction helpers
//! every write goes through. This module only assembles the router.
//!
//! Every write runs in one database transaction that starts by bumping the environment's
//! `write_seq` (the row lock in Postgres, the write lock in SQLite), so writers on one
//! environment are serialised and none loses another's update; the audit entry is written in the
//! same transaction.

pub mod admin;
pub mod common;
pub mod environments;
pub mod experiments;
pub mod publish;
pub mod sdk;

use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

/// The OpenAPI document's fixed part; the paths come from the routes.
#[derive(OpenApi)]
#[openapi(
    info(title = "Vario control plane", description = "Author, launch, pause, ramp and roll back experiments; publish snapshots (SPEC §8)."),
    modifiers(&BearerAuth)
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Every route, with its OpenAPI document.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(environments::create_environment, environments::list_environments))
        .routes(routes!(environments::get_environment))
        .routes(routes!(environments::create_sdk_key))
        .routes(routes!(environments::list_items))
        .routes(routes!(environments::put_item, environments::delete_item))
        .routes(routes!(experiments::create_experiment, experiments::list_experiments))
        .routes(routes!(experiments::get_experiment, experiments::patch_experiment))
        .routes(routes!(experiments::patch_status))
        .routes(routes!(experiments::add_variant))
        .routes(routes!(experiments::put_allocation))
        .routes(routes!(publish::publish_experiment))
        .routes(routes!(publish::publish_environment))
        .routes(routes!(publish::list_versions))
        .routes(routes!(publish::get_version))
        .routes(routes!(publish::rollback))
        .routes(routes!(admin::create_token, admin::list_tokens))
        .routes(routes!(admin::delete_token))
        .routes(routes!(admin::list_audit))
        .routes(routes!(admin::health))
        .routes(routes!(sdk::sdk_snapshot))
        .routes(routes!(sdk::sdk_stream))
}
