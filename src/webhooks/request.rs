//! The request a webhook sends for one ticket, built exactly once: the preview shows it
//! and the delivery engine snapshots it. Secrets travel only in `headers`; everything
//! meant for people or storage reads `redacted_headers`, where they are `••••` by the
//! one redaction rule (`delivery::redact`): the connection's authentication and secret
//! headers, and every header secret by its name, the webhook's own lines included.

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::input::body_kind;
use super::model::{Method, PayloadMode, RequestType, Status, Webhook};
use crate::connections::input::url_host;
use crate::connections::{Auth, Connection};
use crate::db::DbConn;
use crate::delivery::RequestSnapshot;
use crate::delivery::redact::{REDACTED, is_secret_header, shown_value};
use crate::error::{Error, Result};
use crate::secrets::{Secret, SecretBox};
use crate::templating::{Kind, RenderContext, Template, TicketValues};
use crate::tickets::payload::sample_template_values;
use crate::tickets::{template_values, ticket_json};

/// Which ticket the request is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TicketRef {
    Id(i64),
    /// The built-in sample ticket, for previews without real data.
    Sample,
}

/// What fired the webhook, for `{{event.*}}` and `{{actor.name}}`.
#[derive(Debug, Clone, Default)]
pub struct TriggerCtx {
    pub event_type: Option<String>,
    /// The event's `{field: {old, new}}` object.
    pub changes: Option<Value>,
    /// What else the event tells, by placeholder name (`event.note` …).
    pub event_values: BTreeMap<String, Value>,
    pub actor_name: Option<String>,
}

#[derive(Debug, Clone)]
pub struct BuiltRequest {
    pub method: Method,
    pub url: String,
    /// Real values, for sending only.
    pub headers: Vec<(String, Secret)>,
    /// The same headers with secret values replaced by `••••`, for display and storage.
    pub redacted_headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The body's media type; None when there is no body.
    pub content_type: Option<String>,
    /// The connection the request goes through (the test connection in Test status).
    pub connection_id: Option<i64>,
    /// NTLM cannot be written as a header in advance: the sender negotiates it with
    /// these credentials.
    pub ntlm: Option<(String, Secret, String)>,
    /// The header the connection's authentication sets (`Authorization`, an API key
    /// header), if any.
    pub auth_header: Option<String>,
    /// The webhook's action description rendered for this firing (empty when it has
    /// none): what the ticket history says was done.
    pub description: String,
}

impl BuiltRequest {
    /// The body as it will be sent, byte for byte (invalid UTF-8 shown as `�`). Not
    /// re-formatted: a JSON round trip would reorder the keys the template keeps.
    pub fn display_body(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

impl BuiltRequest {
    /// What the delivery engine stores: the redacted headers without the connection's
    /// authentication (the sender adds it from the connection at each attempt, so an
    /// edited credential takes effect on the next retry), and the real values of the
    /// other secret headers sealed with `sb`.
    pub fn snapshot(&self, sb: &SecretBox) -> Result<RequestSnapshot> {
        let is_auth = |n: &str| {
            self.auth_header
                .as_deref()
                .is_some_and(|a| a.eq_ignore_ascii_case(n))
        };
        let headers: Vec<(String, String)> = self
            .redacted_headers
            .iter()
            .filter(|(n, _)| !is_auth(n))
            .cloned()
            .collect();
        let secret: Vec<(String, String)> = self
            .headers
            .iter()
            .zip(&self.redacted_headers)
            .filter(|((n, real), (_, shown))| !is_auth(n) && real.expose() != shown)
            .map(|((n, real), _)| (n.clone(), real.expose().to_string()))
            .collect();
        let sealed_headers = if secret.is_empty() {
            None
        } else {
            let json = serde_json::to_string(&secret)
                .map_err(|e| Error::Internal(format!("cannot encode headers: {e}")))?;
            Some(sb.seal(&Secret(json))?)
        };
        Ok(RequestSnapshot {
            method: self.method.code().to_string(),
            url: self.url.clone(),
            headers,
            sealed_headers,
            body: String::from_utf8_lossy(&self.body).into_owned(),
            content_type: self.content_type.clone().unwrap_or_default(),
        })
    }
}

/// The connection a webhook sends through: its test connection in Test status or when
/// asked, else its main connection.
pub fn connection_for(w: &Webhook, use_test_connection: bool) -> Option<i64> {
    if use_test_connection || w.status == Status::Test {
        w.test_connection_id.or(w.connection_id)
    } else {
        w.connection_id
    }
}

/// A ticket chosen by display id (`IN164`) or id (`42`); empty text is the sample ticket.
pub fn resolve_ticket(conn: &mut DbConn, text: &str) -> Result<TicketRef> {
    let t = text.trim();
    if t.is_empty() || t.eq_ignore_ascii_case("sample") {
        return Ok(TicketRef::Sample);
    }
    match crate::tickets::Ticket::find(conn, t) {
        Ok(ticket) => Ok(TicketRef::Id(ticket.id)),
        Err(Error::NotFound(_)) => Err(Error::NotFound(format!("ticket `{t}`"))),
        Err(e) => Err(e),
    }
}

/// The ticket's template values.
pub fn ticket_values(conn: &mut DbConn, ticket: TicketRef) -> Result<TicketValues> {
    match ticket {
        TicketRef::Id(id) => template_values(conn, id),
        TicketRef::Sample => {
            let mut v = sample_template_values();
            let url = crate::tickets::payload::ticket_url(conn, 164)?;
            v.insert("ticket.url".into(), Value::String(url));
            Ok(v.into())
        }
    }
}

/// Parameter values: a read-only parameter or one not given takes its default template
/// rendered against the ticket; the rest take what was typed.
pub fn parameter_values(
    w: &Webhook,
    base: &RenderContext,
    given: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for p in &w.parameters {
        let typed = given
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(&p.name))
            .map(|(_, v)| v.clone());
        let value = match typed {
            Some(v) if !p.read_only => v,
            _ => render_text(&p.default_template, base)?,
        };
        out.insert(p.name.clone(), value);
    }
    Ok(out)
}

/// The templates' context before the parameters are added: the ticket's values, `{{now}}`,
/// the webhook's name and who or what fired it. Parameter defaults render against it.
pub fn base_context(
    w: &Webhook,
    ticket_values: TicketValues,
    trigger: &TriggerCtx,
    now: DateTime<Utc>,
) -> RenderContext {
    let ctx = RenderContext::new(ticket_values, now)
        .with_webhook(w.name.clone())
        .prefer_ids(w.send_ids);
    with_trigger(ctx, trigger)
}

/// `ctx` with what fired the webhook: `{{actor.name}}` and the event's `{{event.*}}`.
/// Requests and response actions read them alike.
pub fn with_trigger(mut ctx: RenderContext, trigger: &TriggerCtx) -> RenderContext {
    if let Some(a) = &trigger.actor_name {
        ctx = ctx.with_actor(a.clone());
    }
    if let Some(t) = &trigger.event_type {
        ctx = ctx
            .with_event(t.clone(), trigger.changes.clone().unwrap_or(Value::Null))
            .with_event_values(trigger.event_values.clone());
    }
    ctx
}

fn render_text(text: &str, ctx: &RenderContext) -> Result<String> {
    Ok(Template::parse(text, Kind::Text)?.render(ctx)?)
}

/// Builds the complete request. `now` is the `{{now}}` of the templates.
#[expect(
    clippy::too_many_arguments,
    reason = "the agreed interface of the request builder"
)]
pub fn build(
    conn: &mut DbConn,
    sb: &SecretBox,
    w: &Webhook,
    ticket: TicketRef,
    params: &BTreeMap<String, String>,
    trigger: &TriggerCtx,
    now: DateTime<Utc>,
    use_test_connection: bool,
) -> Result<BuiltRequest> {
    let values = ticket_values(conn, ticket)?;
    build_with(
        conn,
        sb,
        w,
        ticket,
        values,
        params,
        trigger,
        now,
        use_test_connection,
    )
}

/// [`build`] with the ticket's values already read (`ticket`'s, in this transaction).
#[expect(clippy::too_many_arguments, reason = "build's own arguments")]
pub fn build_with(
    conn: &mut DbConn,
    sb: &SecretBox,
    w: &Webhook,
    ticket: TicketRef,
    values: TicketValues,
    params: &BTreeMap<String, String>,
    trigger: &TriggerCtx,
    now: DateTime<Utc>,
    use_test_connection: bool,
) -> Result<BuiltRequest> {
    let mut ctx = base_context(w, values.clone(), trigger, now);
    for (k, v) in parameter_values(w, &ctx, params)? {
        ctx = ctx.with_param(&k, v);
    }

    let description = render_text(&w.action_description, &ctx)?;
    let connection_id = connection_for(w, use_test_connection);
    let connection = match connection_id {
        Some(id) => Some(Connection::get(conn, id)?),
        None => None,
    };

    let url = full_url(w, connection.as_ref(), &ctx)?;

    let mut headers: Vec<(String, Secret, bool)> = Vec::new();
    let mut ntlm = None;
    let mut auth_header = None;
    if let Some(c) = &connection {
        for h in c.resolved_headers(sb)? {
            set_header(&mut headers, h.name, h.value, h.secret);
        }
        let auth = c.resolved_auth(sb)?;
        auth_header = match &auth {
            Auth::None => None,
            Auth::ApiKey { header, .. } => Some(header.clone()),
            _ => Some("Authorization".to_string()),
        };
        match auth {
            Auth::None => {}
            Auth::Basic { user, password } => {
                let raw = format!("{user}:{}", password.expose());
                let v = base64::engine::general_purpose::STANDARD.encode(raw);
                set_header(
                    &mut headers,
                    "Authorization".into(),
                    Secret(format!("Basic {v}")),
                    true,
                );
            }
            Auth::Bearer { token } => {
                let v = Secret(format!("Bearer {}", token.expose()));
                set_header(&mut headers, "Authorization".into(), v, true);
            }
            Auth::ApiKey { header, value } => set_header(&mut headers, header, value, true),
            Auth::Ntlm {
                user,
                password,
                domain,
            } => ntlm = Some((user, password, domain)),
            // The token is fetched by the sender at each attempt; never part of a
            // stored request, so it stands here only to be shown redacted.
            Auth::OAuth2(_) => {
                let v = Secret("Bearer (token from the token endpoint)".into());
                set_header(&mut headers, "Authorization".into(), v, true);
            }
        }
    }
    for (name, value) in super::secret_headers::request_lines(w, sb)? {
        let v = Template::parse(value.expose(), Kind::Header)?.render(&ctx)?;
        let secret = is_secret_header(&name);
        set_header(&mut headers, name, Secret(v), secret);
    }

    let (body, content_type) = if w.method.has_body() {
        let (bytes, ct) = body(conn, w, ticket, &values, &ctx)?;
        (bytes, Some(ct))
    } else {
        (Vec::new(), None)
    };
    if let Some(ct) = &content_type
        && !headers
            .iter()
            .any(|(n, _, _)| n.eq_ignore_ascii_case("content-type"))
    {
        headers.push(("Content-Type".into(), Secret(ct.clone()), false));
    }

    let redacted_headers = headers
        .iter()
        .map(|(n, v, secret)| (n.clone(), shown_value(n, v.expose(), *secret)))
        .chain(
            ntlm.iter()
                .map(|_| ("Authorization".to_string(), format!("NTLM {REDACTED}"))),
        )
        .collect();
    Ok(BuiltRequest {
        method: w.method,
        url,
        headers: headers.into_iter().map(|(n, v, _)| (n, v)).collect(),
        redacted_headers,
        body,
        content_type,
        connection_id,
        ntlm,
        auth_header,
        description,
    })
}

/// A later header of the same name replaces an earlier one: webhook headers win over the
/// connection's defaults.
fn set_header(
    headers: &mut Vec<(String, Secret, bool)>,
    name: String,
    value: Secret,
    secret: bool,
) {
    headers.retain(|(n, _, _)| !n.eq_ignore_ascii_case(&name));
    headers.push((name, value, secret));
}

/// The connection's base URL joined with the webhook's URL, or the webhook's URL alone
/// when it is absolute.
fn full_url(w: &Webhook, c: Option<&Connection>, ctx: &RenderContext) -> Result<String> {
    let own = Template::parse(
        w.url.trim(),
        Kind::Url {
            already_encoded: w.url_encoded,
        },
    )?
    .render(ctx)?;
    // Whether the URL is joined to the base is read from what was typed, never from
    // the render: `https:{{x}}//elsewhere` with an empty `x` renders absolute, and would
    // take the connection's credentials to a host no check saw.
    if sent_as_is(&w.url) {
        return Ok(own);
    }
    let Some(c) = c else {
        return Err(Error::BadRequest(
            "the webhook has no connection and its URL is not absolute".into(),
        ));
    };
    // The base URL was typed as a URL: its literal parts are kept as written.
    let base = Template::parse(
        c.base_url.trim(),
        Kind::Url {
            already_encoded: true,
        },
    )?
    .render(ctx)?;
    Ok(join_url(&base, &own))
}

/// Whether a URL opens with `http://` or `https://` as typed.
fn is_absolute(url: &str) -> bool {
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
}

/// Whether a webhook's URL template is sent as it renders rather than joined to the
/// connection's base URL: it opens with `http(s)://` as typed, or with `{{ticket.url}}`
/// (the one placeholder whose value is a whole link; other values are percent-encoded).
/// `{{{{` is a literal brace.
fn sent_as_is(url: &str) -> bool {
    let url = url.trim();
    is_absolute(url) || opens_with_ticket_url(url)
}

fn opens_with_ticket_url(url: &str) -> bool {
    url.starts_with("{{")
        && !url.starts_with("{{{{")
        && Template::parse(
            url,
            Kind::Url {
                already_encoded: true,
            },
        )
        .is_ok_and(|t| t.placeholders().first() == Some(&"ticket.url"))
}

/// Where a URL opening with `{{ticket.url}}` goes: the console's own address (the one
/// value that renders a whole link, `templating::encode`). Not a `host:port`, so it
/// equals no connection's host.
const CONSOLE_ITSELF: &str = "{{ticket.url}}";

/// The hosts a webhook's header lines may be sent to, as `build` reaches them: through
/// its connection, and through its test connection (Test status, or a test-send that
/// asks for it: `connection_for`). Each is the host of the URL `full_url` makes, before
/// a ticket fills it, compared as connections compare their own base URL
/// (`connections::input::url_host`: lower-cased, with its port); `None` where no host
/// can be read. A connection that does not exist adds its URL's host alone (saving
/// reports the connection).
pub fn header_hosts(
    conn: &mut DbConn,
    url: &str,
    connection_id: Option<i64>,
    test_connection_id: Option<i64>,
) -> Result<BTreeSet<Option<String>>> {
    let mut hosts = BTreeSet::new();
    // Without a test connection both routes are the main one: read it once.
    let ids: BTreeSet<Option<i64>> = [connection_id, test_connection_id.or(connection_id)]
        .into_iter()
        .collect();
    for id in ids {
        let base = match id.map(|id| Connection::get(conn, id)).transpose() {
            Ok(c) => c.map(|c| c.base_url),
            Err(Error::NotFound(_)) => None,
            Err(e) => return Err(e),
        };
        hosts.insert(target_host(url, base.as_deref()));
    }
    Ok(hosts)
}

/// The webhooks (by name) holding secret header values that a connection's move from
/// base URL `old` to `new` would send to another host: those sending through connection
/// `id` (as main or test connection) to a URL joined to its base. The connection asks
/// for its own secrets again on such a move; these it names, for the administrator to
/// confirm (`ConnectionInput::move_webhook_secrets`).
pub fn secrets_moved_by(conn: &mut DbConn, id: i64, old: &str, new: &str) -> Result<Vec<String>> {
    use crate::db::schema::webhooks;
    use diesel::prelude::*;
    let rows: Vec<(String, String, Option<String>)> = webhooks::table
        .filter(
            webhooks::connection_id
                .eq(id)
                .or(webhooks::test_connection_id.eq(id)),
        )
        .order(webhooks::name.asc())
        .select((webhooks::name, webhooks::url, webhooks::sealed_headers))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter(|(_, url, sealed)| {
            let (was, now) = (target_host(url, Some(old)), target_host(url, Some(new)));
            // A host that cannot be read compares with nothing.
            let moved = was != now || (was.is_none() && old.trim() != new.trim());
            sealed.as_deref().is_some_and(|s| !s.is_empty()) && moved
        })
        .map(|(name, _, _)| name)
        .collect())
}

/// The host `full_url` sends a webhook URL to through a connection of base URL `base`.
fn target_host(url: &str, base: Option<&str>) -> Option<String> {
    let url = url.trim();
    if opens_with_ticket_url(url) {
        Some(CONSOLE_ITSELF.into())
    } else if is_absolute(url) {
        url_host(url)
    } else {
        url_host(&join_url(base?.trim(), url))
    }
}

pub fn join_url(base: &str, path: &str) -> String {
    if path.is_empty() {
        base.to_string()
    } else if path.starts_with('?') || path.starts_with('#') {
        format!("{base}{path}")
    } else {
        format!(
            "{}/{}",
            base.trim_end_matches('/'),
            path.trim_start_matches('/')
        )
    }
}

fn body(
    conn: &mut DbConn,
    w: &Webhook,
    ticket: TicketRef,
    values: &BTreeMap<String, Value>,
    ctx: &RenderContext,
) -> Result<(Vec<u8>, String)> {
    let json_ct = RequestType::Json.mime().to_string();
    if let Some(v) = w.preset.payload(ctx)? {
        return Ok((serde_json::to_vec(&v).unwrap_or_default(), json_ct));
    }
    let json = |v: Value| (serde_json::to_vec(&v).unwrap_or_default(), json_ct.clone());
    match w.payload_mode {
        PayloadMode::WholeTicket => Ok(json(whole(conn, w, ticket, values, false)?)),
        PayloadMode::WholeTicketLinked => Ok(json(whole(conn, w, ticket, values, true)?)),
        PayloadMode::Custom => {
            let t = Template::parse(&w.body_template, body_kind(w.request_content_type))?;
            Ok((
                t.render(ctx)?.into_bytes(),
                w.request_content_type.mime().to_string(),
            ))
        }
    }
}

fn whole(
    conn: &mut DbConn,
    w: &Webhook,
    ticket: TicketRef,
    values: &BTreeMap<String, Value>,
    linked: bool,
) -> Result<Value> {
    match ticket {
        TicketRef::Id(id) => ticket_json(conn, id, linked, w.send_ids),
        TicketRef::Sample => Ok(sample_ticket_json(values, linked, w.send_ids)),
    }
}

/// The whole-ticket shape for the sample ticket, from its flat values: base fields at the
/// top, `ticket.<form>.<field>` under `forms`, multi-line forms as arrays of rows.
fn sample_ticket_json(values: &BTreeMap<String, Value>, linked: bool, ids: bool) -> Value {
    let mut top = Map::new();
    let mut forms: Map<String, Value> = Map::new();
    for (k, v) in values {
        let Some(rest) = k.strip_prefix("ticket.") else {
            continue;
        };
        let parts: Vec<&str> = rest.split('.').collect();
        match parts.as_slice() {
            [name] if v.is_array() && !top.contains_key(*name) && !is_base(name) => {
                forms.insert((*name).to_string(), v.clone());
            }
            [name] => {
                top.insert((*name).to_string(), v.clone());
            }
            ["priority", "id"] if ids => {
                top.insert("priority".into(), v.clone());
            }
            [form, field] => {
                let entry = forms
                    .entry((*form).to_string())
                    .or_insert_with(|| Value::Object(Map::new()));
                // With ids the `.id` entry, which sorts after this one, replaces it.
                if let Some(o) = entry.as_object_mut() {
                    o.insert((*field).to_string(), v.clone());
                }
            }
            [form, field, "id"] if ids => {
                if let Some(o) = forms
                    .entry((*form).to_string())
                    .or_insert_with(|| Value::Object(Map::new()))
                    .as_object_mut()
                {
                    o.insert((*field).to_string(), v.clone());
                }
            }
            _ => {}
        }
    }
    top.insert("forms".into(), Value::Object(forms));
    if linked {
        top.insert("history".into(), Value::Array(Vec::new()));
    }
    Value::Object(top)
}

fn is_base(name: &str) -> bool {
    !name.contains('.')
        && matches!(
            name,
            "id" | "displayid" | "type" | "subject" | "description" | "status" | "priority"
        )
}
