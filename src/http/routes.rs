//! The one route table. Every route is registered here with the access it requires
//! (the mechanism: `route_table`). The route-table test walks this list to prove it
//! (CSRF, foreign origins, anonymous users, technicians on admin routes).

pub use super::route_table::{Access, RouteInfo, RouteTable};

use crate::api;
use crate::web::connections;
use crate::web::getting_started;
use crate::web::{account, assets, audit, health, home, log, login, roles, users};
use crate::web::{form_fields, forms, rule_test, rules, ticket_actions, ticket_rows, tickets};
use crate::web::{test_send, webhook_preview, webhooks};

/// Every route of the application.
pub fn table() -> RouteTable {
    use Access::*;
    let mut t = RouteTable::default();

    t.get("/healthz", Public, health::healthz);
    t.get("/readyz", Public, health::readyz);
    t.get("/metrics", Public, health::metrics);
    t.get("/static/{path:.*}", Public, assets::asset);
    t.get("/favicon.svg", Public, assets::favicon);

    t.get("/login", Public, login::login_page);
    t.post("/login", Public, login::login_submit);
    t.post("/logout", User, login::logout);

    t.get("/", User, home::home);
    t.post(
        "/admin/getting-started/dismiss",
        Admin,
        getting_started::getting_started_dismiss,
    );
    t.post("/admin/demo", Admin, getting_started::demo_load);

    t.get("/account", User, account::account_show);
    t.post("/account/password", User, account::account_password);
    t.post("/account/tokens", User, account::token_create);
    t.post(
        "/account/tokens/{id:\\d+}/revoke",
        User,
        account::token_revoke,
    );

    t.get("/admin/users", Admin, users::users_list);
    t.post("/admin/users", Admin, users::users_create);
    t.get("/admin/users/new", Admin, users::users_new);
    t.get("/admin/users/{id:\\d+}", Admin, users::users_edit);
    t.post("/admin/users/{id:\\d+}", Admin, users::users_update);
    t.post(
        "/admin/users/{id:\\d+}/active",
        Admin,
        users::users_set_active,
    );
    t.post(
        "/admin/users/{id:\\d+}/password",
        Admin,
        users::users_reset_password,
    );

    t.get("/admin/roles", Admin, roles::roles_list);
    t.post("/admin/roles", Admin, roles::roles_create);
    t.get("/admin/roles/{id:\\d+}", Admin, roles::roles_edit);
    t.post("/admin/roles/{id:\\d+}", Admin, roles::roles_update);
    t.post("/admin/roles/{id:\\d+}/delete", Admin, roles::roles_delete);

    t.get("/admin/audit", Admin, audit::audit_list);

    t.get("/api/v1/me", Api, api::me::me_get);

    t.get("/tickets", Technician, tickets::tickets_list);
    t.post("/tickets", Technician, tickets::tickets_create);
    t.get("/tickets/new", Technician, tickets::tickets_new);
    t.get("/tickets/{id:\\d+}", Technician, tickets::tickets_show);
    t.post("/tickets/{id:\\d+}", Technician, tickets::tickets_update);
    t.get("/tickets/{id:\\d+}/edit", Technician, tickets::tickets_edit);
    t.post(
        "/tickets/{id:\\d+}/notes",
        Technician,
        tickets::tickets_note,
    );
    t.post("/tickets/{id:\\d+}/delete", Admin, tickets::tickets_delete);
    t.post(
        "/tickets/{id:\\d+}/forms/{form:\\d+}/rows",
        Technician,
        ticket_rows::rows_create,
    );
    t.get(
        "/tickets/{id:\\d+}/forms/{form:\\d+}/rows/{row:\\d+}",
        Technician,
        ticket_rows::rows_show,
    );
    t.post(
        "/tickets/{id:\\d+}/forms/{form:\\d+}/rows/{row:\\d+}",
        Technician,
        ticket_rows::rows_update,
    );
    t.get(
        "/tickets/{id:\\d+}/forms/{form:\\d+}/rows/{row:\\d+}/edit",
        Technician,
        ticket_rows::rows_edit,
    );
    t.post(
        "/tickets/{id:\\d+}/forms/{form:\\d+}/rows/{row:\\d+}/delete",
        Technician,
        ticket_rows::rows_delete,
    );

    t.get(
        "/tickets/{id:\\d+}/webhooks/{webhook:\\d+}/fire",
        Technician,
        ticket_actions::ticket_webhooks_dialog,
    );
    t.post(
        "/tickets/{id:\\d+}/webhooks/{webhook:\\d+}/fire",
        Technician,
        ticket_actions::ticket_webhooks_fire,
    );
    t.post(
        "/tickets/{id:\\d+}/webhooks/{webhook:\\d+}/preview",
        Technician,
        ticket_actions::ticket_webhooks_preview,
    );
    t.get(
        "/tickets/{id:\\d+}/deliveries/{delivery:\\d+}",
        Technician,
        ticket_actions::ticket_deliveries_status,
    );

    t.get("/admin/forms", Admin, forms::forms_list);
    t.post("/admin/forms", Admin, forms::forms_create);
    t.get("/admin/forms/new", Admin, forms::forms_new);
    t.get("/admin/forms/{id:\\d+}", Admin, forms::forms_edit);
    t.post("/admin/forms/{id:\\d+}", Admin, forms::forms_update);
    t.post("/admin/forms/{id:\\d+}/delete", Admin, forms::forms_delete);
    t.post(
        "/admin/forms/{id:\\d+}/fields",
        Admin,
        form_fields::fields_add,
    );
    t.post(
        "/admin/forms/{id:\\d+}/fields/{field:\\d+}",
        Admin,
        form_fields::fields_update,
    );
    t.post(
        "/admin/forms/{id:\\d+}/fields/{field:\\d+}/delete",
        Admin,
        form_fields::fields_delete,
    );
    t.post(
        "/admin/forms/{id:\\d+}/fields/{field:\\d+}/move",
        Admin,
        form_fields::fields_move,
    );

    t.get("/api/v1/openapi.json", Public, api::openapi::openapi_json);
    t.get("/api/v1/tickets", Api, api::tickets::tickets_list);
    t.post("/api/v1/tickets", Api, api::tickets::tickets_create);
    t.get("/api/v1/tickets/{key}", Api, api::tickets::tickets_get);
    t.patch("/api/v1/tickets/{key}", Api, api::tickets::tickets_patch);
    t.delete(
        "/api/v1/tickets/{key}",
        ApiAdmin,
        api::tickets::tickets_delete,
    );
    t.post(
        "/api/v1/tickets/{key}/notes",
        Api,
        api::tickets::tickets_note,
    );
    t.get(
        "/api/v1/tickets/{key}/history",
        Api,
        api::tickets::tickets_history,
    );
    t.get(
        "/api/v1/tickets/{key}/webhooks",
        Api,
        api::ticket_actions::ticket_webhooks_list,
    );
    t.post(
        "/api/v1/tickets/{key}/webhooks/{webhook:\\d+}/fire",
        Api,
        api::ticket_actions::ticket_webhooks_fire,
    );

    t.get("/admin/log", Admin, log::log_list);
    t.get("/admin/log/export.csv", Admin, log::log_export_csv);
    t.post(
        "/tickets/{id:\\d+}/erase-delivery-bodies",
        Admin,
        log::log_erase_ticket_bodies,
    );
    t.get("/admin/log/bulk", Admin, log::log_bulk_confirm);
    t.post("/admin/log/bulk", Admin, log::log_bulk_start);
    t.get("/admin/log/bulk/{id:\\d+}", Admin, log::log_bulk_show);
    t.get("/admin/log/fragment", Admin, log::log_fragment);
    t.get("/admin/log/{id:\\d+}/row", Admin, log::log_row);
    t.post("/admin/log/{id:\\d+}/replay", Admin, log::log_replay);
    t.post("/admin/log/{id:\\d+}/cancel", Admin, log::log_cancel);
    t.get("/admin/log/{key}", Admin, log::log_detail);

    t.get("/admin/webhooks", Admin, webhooks::webhooks_list);
    t.post("/admin/webhooks", Admin, webhooks::webhooks_create);
    t.get("/admin/webhooks/new", Admin, webhooks::webhooks_new);
    t.post(
        "/admin/webhooks/preview",
        Admin,
        webhook_preview::webhooks_preview,
    );
    t.post("/admin/webhooks/test", Admin, test_send::webhooks_test);
    t.get("/admin/webhooks/rows/{kind}", Admin, webhooks::webhooks_row);
    t.get("/admin/webhooks/{id:\\d+}", Admin, webhooks::webhooks_edit);
    t.post(
        "/admin/webhooks/{id:\\d+}",
        Admin,
        webhooks::webhooks_update,
    );
    t.post(
        "/admin/webhooks/{id:\\d+}/clone",
        Admin,
        webhooks::webhooks_clone,
    );
    t.post(
        "/admin/webhooks/{id:\\d+}/delete",
        Admin,
        webhooks::webhooks_delete,
    );
    t.get("/admin/rules", Admin, rules::rules_list);
    t.post("/admin/rules", Admin, rules::rules_create);
    t.get("/admin/rules/new", Admin, rules::rules_new);
    t.get("/admin/rules/rows/{kind}", Admin, rules::rules_row);
    t.post("/admin/rules/actions", Admin, rules::rules_actions);
    t.get("/admin/rules/{id:\\d+}", Admin, rules::rules_edit);
    t.post("/admin/rules/{id:\\d+}", Admin, rules::rules_update);
    t.post(
        "/admin/rules/{id:\\d+}/enabled",
        Admin,
        rules::rules_set_enabled,
    );
    t.post("/admin/rules/{id:\\d+}/move", Admin, rules::rules_move);
    t.post("/admin/rules/{id:\\d+}/clone", Admin, rules::rules_clone);
    t.post("/admin/rules/{id:\\d+}/delete", Admin, rules::rules_delete);
    t.post("/admin/rules/{id:\\d+}/test", Admin, rule_test::rules_test);
    t.get("/api/v1/webhooks", ApiAdmin, api::webhooks::webhooks_list);
    t.post("/api/v1/webhooks", ApiAdmin, api::webhooks::webhooks_create);
    t.get(
        "/api/v1/webhooks/{id:\\d+}",
        ApiAdmin,
        api::webhooks::webhooks_get,
    );
    t.put(
        "/api/v1/webhooks/{id:\\d+}",
        ApiAdmin,
        api::webhooks::webhooks_put,
    );
    t.patch(
        "/api/v1/webhooks/{id:\\d+}",
        ApiAdmin,
        api::webhooks::webhooks_patch,
    );
    t.delete(
        "/api/v1/webhooks/{id:\\d+}",
        ApiAdmin,
        api::webhooks::webhooks_delete,
    );
    t.post(
        "/api/v1/webhooks/{id:\\d+}/test",
        ApiAdmin,
        api::test_send::webhooks_test,
    );

    t.get("/api/v1/rules", ApiAdmin, api::rules::rules_list);
    t.post("/api/v1/rules", ApiAdmin, api::rules::rules_create);
    t.put("/api/v1/rules/order", ApiAdmin, api::rules::rules_order);
    t.get("/api/v1/rules/{id:\\d+}", ApiAdmin, api::rules::rules_get);
    t.put("/api/v1/rules/{id:\\d+}", ApiAdmin, api::rules::rules_put);
    t.patch("/api/v1/rules/{id:\\d+}", ApiAdmin, api::rules::rules_patch);
    t.delete(
        "/api/v1/rules/{id:\\d+}",
        ApiAdmin,
        api::rules::rules_delete,
    );
    t.post(
        "/api/v1/rules/{id:\\d+}/clone",
        ApiAdmin,
        api::rules::rules_clone,
    );
    t.post(
        "/api/v1/rules/{id:\\d+}/test",
        ApiAdmin,
        api::rules::rules_test,
    );

    t.get(
        "/api/v1/deliveries",
        ApiAdmin,
        api::deliveries::deliveries_list,
    );
    t.get(
        "/api/v1/deliveries/export.jsonl",
        ApiAdmin,
        api::deliveries::deliveries_export,
    );
    t.get(
        "/api/v1/deliveries/{key:(\\d+|msg_[0-9a-f]+)}",
        Api,
        api::deliveries::deliveries_get,
    );
    t.get(
        "/api/v1/deliveries/{key:(\\d+|msg_[0-9a-f]+)}/attempts",
        Api,
        api::deliveries::deliveries_attempts,
    );
    t.post(
        "/api/v1/deliveries/{id:\\d+}/replay",
        ApiAdmin,
        api::deliveries::deliveries_replay,
    );
    t.post(
        "/api/v1/deliveries/{id:\\d+}/cancel",
        ApiAdmin,
        api::deliveries::deliveries_cancel,
    );
    t.get("/admin/connections", Admin, connections::connections_list);
    t.post("/admin/connections", Admin, connections::connections_create);
    // The echo receiver (off unless configured; see `echo`): what it heard, and the
    // endpoint itself, for every method a webhook may use.
    t.get("/admin/echo", Admin, crate::web::echo::echo_index);
    t.get("/admin/echo/{name}", Admin, crate::web::echo::echo_show);
    t.post(
        "/admin/echo/{name}/clear",
        Admin,
        crate::web::echo::echo_clear,
    );
    t.get("/_echo/{name}", Receiver, crate::web::echo::echo_receive);
    t.post("/_echo/{name}", Receiver, crate::web::echo::echo_receive);
    t.put("/_echo/{name}", Receiver, crate::web::echo::echo_receive);
    t.patch("/_echo/{name}", Receiver, crate::web::echo::echo_receive);
    t.delete("/_echo/{name}", Receiver, crate::web::echo::echo_receive);
    t.get(
        "/admin/connections/new",
        Admin,
        connections::connections_new,
    );
    t.get(
        "/admin/connections/{id:\\d+}",
        Admin,
        connections::connections_edit,
    );
    t.post(
        "/admin/connections/{id:\\d+}",
        Admin,
        connections::connections_update,
    );
    t.get(
        "/admin/connections/{id:\\d+}/clone",
        Admin,
        connections::connections_clone,
    );
    t.post(
        "/admin/connections/{id:\\d+}/delete",
        Admin,
        connections::connections_delete,
    );
    t.post(
        "/admin/connections/{id:\\d+}/signing-secret",
        Admin,
        connections::connections_signing_secret,
    );
    t.post(
        "/admin/connections/{id:\\d+}/test",
        Admin,
        test_send::connections_test,
    );
    t.post(
        "/admin/connections/{id:\\d+}/resume",
        Admin,
        crate::web::connection_health::connections_resume,
    );
    t.post(
        "/admin/connections/{id:\\d+}/pause",
        Admin,
        crate::web::connection_health::connections_pause,
    );
    t.post(
        "/admin/connections/{id:\\d+}/discard-held",
        Admin,
        crate::web::connection_health::connections_discard_held,
    );
    t.get(
        "/admin/connections/{id:\\d+}/alerts",
        Admin,
        crate::web::alerts::connection_alerts_show,
    );
    t.post(
        "/admin/connections/{id:\\d+}/alerts",
        Admin,
        crate::web::alerts::connection_alerts_save,
    );
    t.get(
        "/admin/alerts",
        Admin,
        crate::web::alerts::alerts_default_show,
    );
    t.post(
        "/admin/alerts",
        Admin,
        crate::web::alerts::alerts_default_save,
    );
    t.get(
        "/api/v1/alerts/default",
        ApiAdmin,
        api::alerts::alerts_default_get,
    );
    t.put(
        "/api/v1/alerts/default",
        ApiAdmin,
        api::alerts::alerts_default_put,
    );
    t.get(
        "/api/v1/connections/{id:\\d+}/alerts",
        ApiAdmin,
        api::alerts::connection_alerts_get,
    );
    t.put(
        "/api/v1/connections/{id:\\d+}/alerts",
        ApiAdmin,
        api::alerts::connection_alerts_put,
    );
    t.post(
        "/api/v1/connections/{id:\\d+}/pause",
        ApiAdmin,
        api::alerts::connections_pause,
    );
    t.post(
        "/api/v1/connections/{id:\\d+}/resume",
        ApiAdmin,
        api::alerts::connections_resume,
    );
    t.post(
        "/api/v1/connections/{id:\\d+}/discard-held",
        ApiAdmin,
        api::alerts::connections_discard_held,
    );
    t.get(
        "/api/v1/connections",
        ApiAdmin,
        api::connections::connections_list,
    );
    t.post(
        "/api/v1/connections",
        ApiAdmin,
        api::connections::connections_create,
    );
    t.get(
        "/api/v1/connections/{id:\\d+}",
        ApiAdmin,
        api::connections::connections_get,
    );
    t.patch(
        "/api/v1/connections/{id:\\d+}",
        ApiAdmin,
        api::connections::connections_update,
    );
    t.post(
        "/api/v1/connections/{id:\\d+}",
        ApiAdmin,
        api::connections::connections_update,
    );
    t.delete(
        "/api/v1/connections/{id:\\d+}",
        ApiAdmin,
        api::connections::connections_delete,
    );
    t.post(
        "/api/v1/connections/{id:\\d+}/test",
        ApiAdmin,
        api::test_send::connections_test,
    );
    t.post(
        "/api/v1/connections/{id:\\d+}/signing-secret",
        ApiAdmin,
        api::connections::connections_signing_secret,
    );

    t
}

pub fn configure(cfg: &mut actix_web::web::ServiceConfig) {
    table().register(cfg);
}
