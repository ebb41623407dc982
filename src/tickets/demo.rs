//! `hookdesk demo`: a realistic sample in an empty database — a technician, forms
//! (including the multi-line "Linked assets"), and tickets of every type with history —
//! so a new user has something to fire webhooks at.

use super::events::NoRules;
use serde_json::json;

use super::form_fields::FieldInput;
use super::forms::FormInput;
use super::{Form, FormField, Ticket, TicketInput, TicketPatch, TicketType, query};
use crate::audit::{self, Actor};
use crate::auth::users::NewUserInput;
use crate::auth::{TECHNICIAN, User, password};
use crate::db::DbConn;
use crate::error::{Error, Result};

/// What the demo made, for the command to print.
#[derive(Debug)]
pub struct DemoSummary {
    pub technician: String,
    /// Set when the technician was created now (shown once).
    pub password: Option<String>,
    pub forms: usize,
    pub tickets: usize,
}

const SUBJECTS: [(TicketType, &[&str]); 4] = [
    (
        TicketType::Incident,
        &[
            "Laptop will not start after update",
            "VPN drops every ten minutes",
            "Printer on floor 3 jams",
            "Outlook cannot send mail",
            "Payroll app returns error 500",
            "Wi-Fi slow in meeting room B",
            "Password reset email never arrives",
            "Monitor flickers",
            "Shared drive is read-only",
        ],
    ),
    (
        TicketType::ServiceRequest,
        &[
            "New starter: laptop and accounts",
            "Access to the finance share",
            "Second monitor for home office",
            "Install Visio",
            "Mobile phone for sales rep",
            "Create distribution list for the board",
            "Replace broken headset",
            "Guest Wi-Fi for visitors on Friday",
            "Licence for design software",
        ],
    ),
    (
        TicketType::Problem,
        &[
            "Recurring VPN disconnects",
            "Mail server queue backs up every Monday",
            "Laptops lose domain trust",
            "Nightly backup overruns",
            "Printer driver crashes spooler",
            "Intermittent DNS failures",
            "Single sign-on timeouts",
            "Disk space alerts on file server",
            "Slow logins at the Paris office",
        ],
    ),
    (
        TicketType::Change,
        &[
            "Upgrade firewall firmware",
            "Migrate mailboxes to the new cluster",
            "Roll out OS security patches",
            "Replace core switch",
            "Renew TLS certificates",
            "Move file server to new storage",
            "Enable MFA for all staff",
            "Decommission old print server",
            "Add VPN capacity",
        ],
    ),
];

const REQUESTERS: [(&str, &str); 6] = [
    ("Robin Hale", "robin.hale@example.com"),
    ("Sam Okafor", "sam.okafor@example.com"),
    ("Priya Nair", "priya.nair@example.com"),
    ("Lena Vogel", "lena.vogel@example.com"),
    ("Tom Becker", "tom.becker@example.com"),
    ("Ana Souza", "ana.souza@example.com"),
];

fn forms(conn: &mut DbConn, actor: &Actor) -> Result<usize> {
    let types = |t: &[&str]| t.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let field = |name: &str, kind: &str, required: bool, options: &str| FieldInput {
        name: name.into(),
        field_type: kind.into(),
        required,
        options: options.into(),
        decimal_places: String::new(),
    };
    let defs = [
        (
            FormInput {
                name: "Inventory".into(),
                multi_line: false,
                ticket_types: types(&["IN", "SR", "PR"]),
            },
            vec![
                field("Serial number", "text", false, ""),
                field("Warranty", "checkbox", false, ""),
                field(
                    "Location",
                    "select",
                    false,
                    "LON = London office\nPAR = Paris office\nNYC = New York office",
                ),
                FieldInput {
                    decimal_places: "2".into(),
                    ..field("Cost", "number", false, "")
                },
            ],
        ),
        (
            FormInput {
                name: "Linked assets".into(),
                multi_line: true,
                ticket_types: types(&["IN", "SR", "CH"]),
            },
            vec![
                field("Asset", "text", true, ""),
                field("Request date", "date", false, ""),
            ],
        ),
        (
            FormInput {
                name: "Change plan".into(),
                multi_line: false,
                ticket_types: types(&["CH"]),
            },
            vec![
                field("Planned start", "date", false, ""),
                field("Risk", "select", false, "L = Low\nM = Medium\nH = High"),
                field("Rollback plan", "textarea", false, ""),
            ],
        ),
        (
            FormInput {
                name: "Third party".into(),
                multi_line: false,
                ticket_types: types(&["IN", "SR", "PR", "CH"]),
            },
            vec![field("Sys id", "text", false, "")],
        ),
    ];
    let n = defs.len();
    for (f, fields) in defs {
        let form = Form::create(conn, actor, &f)?;
        for fi in fields {
            FormField::add(conn, actor, form.id, &fi)?;
        }
    }
    Ok(n)
}

/// Fills an empty database, with a `demo.fill` audit row; refuses when tickets already
/// exist. All of it is one transaction: a demo is filled completely or not at all, and
/// holding the write lock that long is fine for a one-off command.
pub fn fill(conn: &mut DbConn, actor: &Actor) -> Result<DemoSummary> {
    crate::db::write(conn, |c| {
        let s = fill_in(c, actor)?;
        let detail = format!("{} form(s), {} ticket(s)", s.forms, s.tickets);
        audit::record(c, actor, "demo.fill", "database", audit::SUCCESS, &detail)?;
        Ok(s)
    })
}

fn fill_in(conn: &mut DbConn, actor: &Actor) -> Result<DemoSummary> {
    let existing = query::count(conn)?;
    if existing > 0 {
        return Err(Error::Conflict(format!(
            "the database already holds {existing} ticket(s); `hookdesk demo` only fills an empty one"
        )));
    }
    let (tech, pw) = match User::find_by_username(conn, "tech")? {
        Some(u) => (u, None),
        None => {
            let pw = password::generate();
            let u = User::create(
                conn,
                actor,
                &NewUserInput {
                    username: "tech".into(),
                    display_name: "Tess Tech".into(),
                    email: "tess.tech@example.com".into(),
                    password: pw.clone(),
                    integration: false,
                    roles: vec![TECHNICIAN.into()],
                },
            )?;
            (u, Some(pw))
        }
    };
    // Tickets are made and worked on by the technician.
    let tess = User::principal(conn, tech.id)?;
    let nforms = if Form::list(conn)?.is_empty() {
        forms(conn, actor)?
    } else {
        0
    };
    let mut count = 0;
    let statuses = ["Open", "In Progress", "Pending", "Resolved", "Closed"];
    for (t, subjects) in SUBJECTS {
        for (i, subject) in subjects.iter().enumerate() {
            let (rname, remail) = REQUESTERS[(i + count) % REQUESTERS.len()];
            let mut forms = std::collections::BTreeMap::new();
            if t != TicketType::Problem && i % 2 == 0 {
                forms.insert(
                    "Linked assets".to_string(),
                    json!([
                        { "asset": format!("P{}", 2400 + i * 7), "requestdate": format!("2026-11-{:02}", 1 + i) },
                        { "asset": format!("FH{}", 6300 + i * 11), "requestdate": format!("2026-11-{:02}", 10 + i) }
                    ]),
                );
            }
            if t != TicketType::Change {
                forms.insert(
                    "Inventory".to_string(),
                    json!({
                        "serialnumber": format!("SN-{}", 4400 + i * 13),
                        "warranty": i % 3 != 0,
                        "location": (["LON", "PAR", "NYC"][i % 3]),
                        // Money: the field shows two decimal places.
                        "cost": (11_999 + i * 3_550) as f64 / 100.0,
                    }),
                );
            } else {
                forms.insert(
                    "Change plan".to_string(),
                    json!({
                        "plannedstart": format!("2026-12-{:02}", 1 + i),
                        "risk": (["L", "M", "H"][i % 3]),
                        "rollbackplan": "Restore the previous configuration from the nightly backup.",
                    }),
                );
            }
            let ticket = Ticket::create(
                conn,
                &tess,
                &TicketInput {
                    ticket_type: t.code().into(),
                    subject: subject.to_string(),
                    description: format!("{subject}. Reported by {rname}; first seen this week."),
                    status: "Open".into(),
                    priority: ["P1", "P2", "P3", "P4"][(i + 1) % 4].into(),
                    category: ["Hardware", "Software", "Network", "Access"][i % 4].into(),
                    assigned_group: ["Service Desk", "Infrastructure", "Applications"][i % 3]
                        .into(),
                    assignee: (i % 3 != 2).then(|| "tech".to_string()),
                    requester_name: rname.into(),
                    requester_email: remail.into(),
                    forms,
                },
                // Demo data is made up: it must not send anything anywhere.
                &NoRules,
            )?;
            // Some history: a note and a status change, as work on a ticket goes.
            if i % 2 == 1 {
                Ticket::add_note(
                    conn,
                    &tess,
                    ticket.id,
                    "Called the requester; collecting more details.",
                    i % 4 == 1,
                    &NoRules,
                )?;
            }
            let status = statuses[i % statuses.len()];
            if status != "Open" {
                Ticket::update(
                    conn,
                    &tess,
                    ticket.id,
                    &TicketPatch {
                        status: Some(status.into()),
                        ..Default::default()
                    },
                    &NoRules,
                )?;
            }
            count += 1;
        }
    }
    Ok(DemoSummary {
        technician: tech.username,
        password: pw,
        forms: nforms,
        tickets: count,
    })
}
