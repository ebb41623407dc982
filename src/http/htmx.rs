//! htmx helpers: is this an htmx request, and toasts sent through `HX-Trigger`.

use actix_web::HttpRequest;

pub fn is_htmx(req: &HttpRequest) -> bool {
    req.headers().contains_key("hx-request")
}

/// `HX-Trigger` value that makes static/app.js show a toast.
pub fn toast_header(level: &str, message: &str) -> String {
    let json =
        serde_json::json!({ "hookdesk:toast": { "level": level, "message": message } }).to_string();
    ascii_json(&json)
}

/// Browsers read a header's bytes as Latin-1, so a message's “quotes” would arrive as
/// mojibake: everything past ASCII is written as a JSON `\u` escape instead, which
/// `JSON.parse` turns back into the character.
fn ascii_json(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{u:04x}"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::toast_header;

    #[test]
    fn a_toast_header_is_ascii_and_says_the_same() {
        let h = toast_header("error", "webhook “Send” is disabled · 🚫");
        assert!(h.is_ascii(), "{h}");
        let v: serde_json::Value = serde_json::from_str(&h).unwrap_or_default();
        assert_eq!(
            v["hookdesk:toast"]["message"],
            "webhook “Send” is disabled · 🚫"
        );
    }
}
