//! One delivery as its page shows it: the row the log lists, the request as stored
//! (secret header values were never stored in clear: they read `••••`), and every
//! attempt with what came back, bodies pretty-printed when they are JSON.

use chrono::NaiveDateTime;

use super::filter::LogQuery;
use super::query::{LogRow, page};
use crate::db::DbConn;
use crate::delivery::queue::Delivery;
use crate::delivery::records::AttemptRecord;
use crate::error::{Error, Result};

#[derive(Debug, Clone, serde::Serialize)]
pub struct AttemptDetail {
    pub number: i32,
    pub started_at: NaiveDateTime,
    pub duration_ms: i64,
    pub request_headers: Vec<(String, String)>,
    pub response_status: Option<i32>,
    pub response_headers: Vec<(String, String)>,
    pub response_body: String,
    pub response_truncated: bool,
    pub error_class: Option<String>,
    pub error_message: Option<String>,
    /// What response processing did with the answer.
    pub note: Option<String>,
    pub worker: String,
}

impl AttemptDetail {
    /// The Standard Webhooks headers this attempt carried.
    pub fn signature_headers(&self) -> Vec<&(String, String)> {
        self.request_headers
            .iter()
            .filter(|(n, _)| n.to_ascii_lowercase().starts_with("webhook-"))
            .collect()
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct DeliveryDetail {
    pub row: LogRow,
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub content_type: String,
    pub attempts: Vec<AttemptDetail>,
    /// Still pending: it can be cancelled.
    pub cancellable: bool,
}

/// JSON and XML bodies indented; anything else as it is. (The page escapes it.)
pub fn pretty(body: &str) -> String {
    let t = body.trim_start();
    if t.starts_with(['{', '['])
        && let Ok(v) = serde_json::from_str::<serde_json::Value>(body)
    {
        return serde_json::to_string_pretty(&v).unwrap_or_else(|_| body.to_string());
    }
    if t.starts_with('<')
        && let Ok(doc) = roxmltree::Document::parse(body)
    {
        let mut out = String::new();
        xml_node(doc.root_element(), 0, &mut out);
        return out;
    }
    body.to_string()
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// One element, indented by `depth`: attributes kept, text trimmed, children one level
/// deeper; an element holding only text stays on one line.
fn xml_node(n: roxmltree::Node, depth: usize, out: &mut String) {
    let pad = "  ".repeat(depth);
    let name = n.tag_name().name();
    out.push_str(&pad);
    out.push('<');
    out.push_str(name);
    for a in n.attributes() {
        out.push_str(&format!(" {}=\"{}\"", a.name(), xml_escape(a.value())));
    }
    let kids: Vec<roxmltree::Node> = n
        .children()
        .filter(|c| c.is_element() || (c.is_text() && !c.text().unwrap_or("").trim().is_empty()))
        .collect();
    if kids.is_empty() {
        out.push_str("/>\n");
        return;
    }
    out.push('>');
    if kids.len() == 1 && kids[0].is_text() {
        out.push_str(&xml_escape(kids[0].text().unwrap_or("").trim()));
    } else {
        out.push('\n');
        for k in kids {
            if k.is_text() {
                out.push_str(&"  ".repeat(depth + 1));
                out.push_str(&xml_escape(k.text().unwrap_or("").trim()));
                out.push('\n');
            } else {
                xml_node(k, depth + 1, out);
            }
        }
        out.push_str(&pad);
    }
    out.push_str(&format!("</{name}>\n"));
}

/// By number (`42`) or by `webhook-id` (`msg_…`).
pub fn load(conn: &mut DbConn, key: &str) -> Result<DeliveryDetail> {
    let d = match key.trim().parse::<i64>() {
        Ok(id) => Delivery::get(conn, id)?,
        Err(_) => Delivery::find_by_uid(conn, key.trim())?
            .ok_or_else(|| Error::NotFound(format!("delivery {key}")))?,
    };
    let f = LogQuery {
        id: d.id.to_string(),
        ..LogQuery::default()
    }
    .check(crate::db::now())?;
    let row = page(conn, &f)?
        .items
        .pop()
        .ok_or_else(|| Error::NotFound(format!("delivery {key}")))?;
    let attempts = AttemptRecord::for_delivery(conn, d.id)?
        .into_iter()
        .map(|a| AttemptDetail {
            request_headers: a.request_header_list(),
            response_headers: a.response_header_list(),
            response_body: pretty(&a.response_body),
            number: a.number,
            started_at: a.started_at,
            duration_ms: a.duration_ms,
            response_status: a.response_status,
            response_truncated: a.response_truncated,
            error_class: a.error_class,
            error_message: a.error_message,
            note: a.note,
            worker: a.worker,
        })
        .collect();
    Ok(DeliveryDetail {
        cancellable: d.status == "pending",
        headers: d.header_list(),
        body: pretty(&d.body),
        method: d.method,
        url: d.url,
        content_type: d.content_type,
        row,
        attempts,
    })
}

#[cfg(test)]
mod tests {
    use super::pretty;

    #[test]
    fn json_and_xml_are_indented_and_other_text_is_kept() {
        assert_eq!(
            pretty(r#"{"a":[1,2]}"#),
            "{\n  \"a\": [\n    1,\n    2\n  ]\n}"
        );
        assert_eq!(
            pretty(r#"<r id="1"><n>IN1 &amp; co</n><e/></r>"#),
            "<r id=\"1\">\n  <n>IN1 &amp; co</n>\n  <e/>\n</r>\n"
        );
        assert_eq!(pretty("<not xml"), "<not xml");
        assert_eq!(pretty("plain"), "plain");
    }
}
