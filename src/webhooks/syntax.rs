//! The pure syntax rules of a webhook's fields: which ticket fields a response may write,
//! which template kind a body is, and what a header name, a response path and a retry
//! schedule look like. `checks` applies them while validating a whole webhook.

use crate::templating::Kind;

use super::model::RequestType;

pub use crate::tickets::targets::writable;

/// The template kind a body of this content type is parsed as.
pub fn body_kind(ct: RequestType) -> Kind {
    match ct {
        RequestType::Json => Kind::Json,
        RequestType::Xml => Kind::Xml,
        RequestType::Form => Kind::Form,
        RequestType::Text => Kind::Text,
    }
}

pub fn valid_header_name(n: &str) -> bool {
    !n.is_empty()
        && n.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// `result.number`, `items[0].id`, `a/b/c` (XML), `key` (form): dotted or slashed
/// segments, each a name optionally followed by `[index]`s.
pub fn valid_response_path(p: &str) -> bool {
    let p = p.trim().trim_start_matches('/');
    !p.is_empty()
        && p.split(['.', '/']).all(|seg| {
            let (name, rest) = seg.split_once('[').map_or((seg, ""), |(n, r)| (n, r));
            let name_ok = !name.is_empty() || !rest.is_empty();
            let idx_ok = rest.is_empty()
                || rest.ends_with(']')
                    && format!("[{rest}").split_terminator(']').all(|i| {
                        i.strip_prefix('[')
                            .is_some_and(|d| d.parse::<usize>().is_ok())
                    });
            name_ok && idx_ok && !seg.is_empty()
        })
}

/// A webhook's own retry delays, in seconds: `60, 300, 1800` or `1m, 5m, 30m` — read by
/// the same duration parser as the global `retry_schedule`, so both accept one syntax.
pub fn parse_schedule(s: &str) -> std::result::Result<Option<Vec<u32>>, String> {
    if s.trim().is_empty() {
        return Ok(None);
    }
    let mut out = Vec::new();
    for part in s.split([',', ' ']).filter(|p| !p.trim().is_empty()) {
        let secs = crate::delivery::retry::parse_duration(part)
            .ok()
            .and_then(|d| u32::try_from(d.as_secs()).ok());
        match secs {
            Some(n) if (1..=604_800).contains(&n) => out.push(n),
            _ => {
                return Err(format!(
                    "`{}` is not a delay between 1 second and 7 days (like 60, 5m or 2h)",
                    part.trim()
                ));
            }
        }
    }
    if out.len() > 50 {
        return Err("at most 50 delays".into());
    }
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_paths() {
        for ok in [
            "result.number",
            "items[0].id",
            "a/b/c",
            "/a/b",
            "key",
            "data[1][2].x",
        ] {
            assert!(valid_response_path(ok), "{ok}");
        }
        for bad in ["", "a..b", "items[x]", "items[0", "a.", "."] {
            assert!(!valid_response_path(bad), "{bad}");
        }
    }

    #[test]
    fn schedules() {
        assert_eq!(parse_schedule(""), Ok(None));
        assert_eq!(
            parse_schedule("60, 300,1800"),
            Ok(Some(vec![60, 300, 1800]))
        );
        assert!(parse_schedule("60, soon").is_err());
        assert!(parse_schedule("0").is_err());
        assert_eq!(parse_schedule("1m, 2h"), Ok(Some(vec![60, 7200])));
    }
}
