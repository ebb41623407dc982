//! `GET /api/v1/openapi.json`: the OpenAPI 3 document, generated from the handlers'
//! annotations, so it cannot drift from the code unnoticed (a test compares it with the
//! route table).

use actix_web::HttpResponse;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{connections, tickets};

/// `GET /api/v1/me` is the foundation's handler; its description lives here.
#[utoipa::path(get, path = "/api/v1/me", tag = "account",
    responses((status = 200, body = super::me::Me), (status = 401)), security(("bearer" = [])))]
#[allow(dead_code)]
fn me_doc() {}

#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "meta",
    responses((status = 200, description = "This document")))]
pub async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Hookdesk API", description = "Tickets and account of a Hookdesk instance. Send `Authorization: Bearer <token>`; errors are `{\"error\": {\"code\", \"message\", \"fields\"}}`."),
    paths(
        me_doc,
        openapi_json,
        tickets::tickets_list,
        tickets::tickets_get,
        tickets::tickets_create,
        tickets::tickets_patch,
        tickets::tickets_delete,
        tickets::tickets_note,
        tickets::tickets_history,
        super::ticket_actions::ticket_webhooks_list,
        super::ticket_actions::ticket_webhooks_fire,
        connections::connections_list,
        connections::connections_get,
        connections::connections_create,
        connections::connections_update,
        connections::connections_update_post_doc,
        connections::connections_delete,
        connections::connections_signing_secret,
        super::alerts::alerts_default_get,
        super::alerts::alerts_default_put,
        super::alerts::connection_alerts_get,
        super::alerts::connection_alerts_put,
        super::alerts::connections_pause,
        super::alerts::connections_resume,
        super::alerts::connections_discard_held,
        super::deliveries::deliveries_list,
        super::deliveries::deliveries_export,
        super::deliveries::deliveries_get,
        super::deliveries::deliveries_attempts,
        super::deliveries::deliveries_replay,
        super::deliveries::deliveries_cancel,
        super::webhooks::webhooks_list,
        super::webhooks::webhooks_get,
        super::webhooks::webhooks_create,
        super::webhooks::webhooks_put,
        super::webhooks::webhooks_patch,
        super::webhooks::webhooks_delete,
        super::test_send::webhooks_test,
        super::test_send::connections_test,
        super::rules::rules_list,
        super::rules::rules_create,
        super::rules::rules_get,
        super::rules::rules_put,
        super::rules::rules_patch,
        super::rules::rules_delete,
        super::rules::rules_clone,
        super::rules::rules_order,
        super::rules::rules_test,
    ),
    components(schemas(
        super::me::Me,
        tickets::TicketPage,
        tickets::TicketObject,
        tickets::TicketCreateBody,
        tickets::TicketPatchBody,
        tickets::PatchResult,
        tickets::NoteBody,
        super::ticket_actions::FireBody,
        super::ticket_actions::FireAccepted,
        crate::firing::manual::Offer,
        crate::firing::manual::Prompt,
        connections::ConnectionView,
        connections::ConnectionBody,
        connections::HeaderView,
        connections::HeaderBody,
        connections::RotateBody,
        connections::SigningSecretView,
        crate::alerts::Policy,
        crate::alerts::ConnectionPolicy,
        super::alerts::Resumed,
        super::alerts::Discarded,
        super::webhooks::WebhookOut,
        crate::webhooks::WebhookInput,
        crate::webhooks::input::ConditionInput,
        crate::webhooks::input::ResponseActionInput,
        crate::webhooks::Parameter,
        crate::webhooks::ResponseField,
        super::test_send::WebhookTestBody,
        crate::delivery::direct::TestReport,
        crate::execution_log::Page,
        crate::execution_log::LogRow,
        super::rules::RuleOut,
        super::rules::OrderBody,
        super::rules::TestBody,
        crate::rules::RuleInput,
        crate::rules::Action,
        crate::rules::store::Firings,
        crate::rules::dry_run::DryRun,
        crate::rules::dry_run::ConditionOutcome,
        crate::rules::dry_run::ActionOutcome,
        crate::rules::dry_run::RequestPreview,
    )),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;
