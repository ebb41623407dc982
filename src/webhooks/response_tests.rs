//! Unit tests of response reading and the patch a mapping builds.

use super::*;
use serde_json::json;

fn doc(kind: ResponseType, body: &str) -> ResponseDoc {
    ResponseDoc::parse(kind, body.as_bytes()).unwrap()
}

#[test]
fn json_paths() {
    let d = doc(
        ResponseType::Json,
        r#"{"result":{"number":"INC0012","sys_id":7},"items":[{"id":1},{"id":2}],"gone":null}"#,
    );
    assert_eq!(d.get("result.number").unwrap(), json!("INC0012"));
    assert_eq!(d.get("result.Number").unwrap(), json!("INC0012"));
    assert_eq!(d.get("items[1].id").unwrap(), json!(2));
    assert_eq!(d.get("items.0.id").unwrap(), json!(1));
    assert_eq!(
        d.get("result.missing").unwrap_err(),
        "`result` has no `missing` (it has: number, sys_id)"
    );
    assert_eq!(
        d.get("items[5].id").unwrap_err(),
        "`items` has 2 item(s); there is no [5]"
    );
    assert_eq!(
        d.get("result.number.x").unwrap_err(),
        "`result.number` is text, so it has no `x`"
    );
    assert_eq!(d.get("gone").unwrap_err(), "`gone` is null in the response");
    assert!(
        d.get("nope")
            .unwrap_err()
            .starts_with("the response has no `nope`")
    );
}

#[test]
fn xml_paths_with_or_without_the_root() {
    let d = doc(
        ResponseType::Xml,
        "<response><result><number> CHG42 </number></result>\
         <item>a</item><item>b</item></response>",
    );
    assert_eq!(d.get("result/number").unwrap(), json!("CHG42"));
    assert_eq!(d.get("/response/result/number").unwrap(), json!("CHG42"));
    assert_eq!(d.get("item[1]").unwrap(), json!("b"));
    assert_eq!(d.get("result/number[0]").unwrap(), json!("CHG42"));
    assert!(d.get("result/other").is_err());
}

#[test]
fn form_and_html() {
    let d = doc(
        ResponseType::Form,
        "ticket=REQ9&state=new&tag=a&tag=b&a.b=dotted",
    );
    assert_eq!(d.get("ticket").unwrap(), json!("REQ9"));
    assert_eq!(d.get("tag[1]").unwrap(), json!("b"));
    assert_eq!(d.get("a.b").unwrap(), json!("dotted"));
    let h = doc(ResponseType::Html, "<p>Done</p>");
    assert_eq!(h.get("body").unwrap(), json!("<p>Done</p>"));
}

#[test]
fn broken_bodies_say_so() {
    assert!(
        ResponseDoc::parse(ResponseType::Json, b"{oops")
            .unwrap_err()
            .starts_with("the response is not valid JSON")
    );
    assert!(
        ResponseDoc::parse(ResponseType::Xml, b"<a><b></a>")
            .unwrap_err()
            .starts_with("the response is not valid XML")
    );
}

#[test]
fn targets_fill_the_patch() {
    let mut p = TicketPatch::default();
    assert_eq!(p.set("ticket.category", json!(12)).unwrap(), "12");
    p.set("ticket.inventory.serial", json!("SN1")).unwrap();
    p.set("ticket.assignee", json!("")).unwrap();
    assert_eq!(p.category.as_deref(), Some("12"));
    assert_eq!(p.forms["inventory"], json!({"serial": "SN1"}));
    assert_eq!(p.assignee, Some(None));
    assert!(p.set("ticket.subject", json!({"a": 1})).is_err());
}
