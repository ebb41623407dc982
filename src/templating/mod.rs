//! The template engine: placeholders such as `{{ticket.subject}}` in request bodies, URLs
//! and headers, checked when a template is saved and filled when a request is built.
//!
//! ```text
//! let t = Template::parse(text, Kind::Json)?;   // syntax: strict JSON, placeholder syntax
//! t.validate(&known)?;                          // every name is one this webhook knows
//! let body = t.render(&ctx)?;                   // values written safely for the kind
//! ```
//!
//! Placeholder syntax is in `segments`; what each kind does with values is in `json`,
//! `xml` and `encode`; names and values are in `context`.

mod context;
mod encode;
mod error;
mod json;
mod segments;
mod xml;

pub use context::{
    BUILTIN_NAMES, EVENT_NOTE, EVENT_NOTE_INTERNAL, KnownNames, RenderContext, TicketValues,
};
pub use error::{RenderError, TemplateError};

use segments::Segment;

/// What a template produces, which decides how values are written into it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A JSON body: strict JSON, filled inside the parsed tree.
    Json,
    /// An XML body: well-formed XML, values escaped.
    Xml,
    /// An `application/x-www-form-urlencoded` body: `key=value` pairs, values encoded.
    Form,
    /// A plain text body (or an action description): values inserted as they are.
    Text,
    /// A URL: values percent-encoded. With `already_encoded` ("URL already holds encoded
    /// parameters") the literal text is sent exactly as written; without it the literal
    /// text is encoded as typed by a person (`%` → `%25`, space → `%20`, non-ASCII as
    /// UTF-8), keeping `:/?#[]@!$&'()*+,;=` as URL syntax.
    Url { already_encoded: bool },
    /// One header value: no line breaks or control characters, in the template or in
    /// any value.
    Header,
}

#[derive(Debug, Clone, PartialEq)]
enum Body {
    Json(json::Node),
    Form(Vec<encode::FormPair>),
    Segments(Vec<Segment>),
}

/// A parsed template; cheap to keep and render many times.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    kind: Kind,
    body: Body,
}

impl Template {
    /// Parses `text`, refusing broken placeholder syntax, invalid JSON for `Kind::Json`,
    /// ill-formed XML for `Kind::Xml` and line breaks for `Kind::Header`, each with the
    /// line and column where it can be given.
    pub fn parse(text: &str, kind: Kind) -> Result<Template, TemplateError> {
        let body = match kind {
            Kind::Json => Body::Json(json::parse(text)?),
            Kind::Form => Body::Form(encode::parse_form(segments::scan(text)?)),
            Kind::Xml => {
                let segs = segments::scan(text)?;
                xml::check(&segs)?;
                Body::Segments(segs)
            }
            Kind::Header => {
                encode::check_header(text)?;
                Body::Segments(segments::scan(text)?)
            }
            Kind::Text | Kind::Url { .. } => Body::Segments(segments::scan(text)?),
        };
        Ok(Template { kind, body })
    }

    /// Parses and validates in one go, as saving a template does.
    pub fn parse_known(
        text: &str,
        kind: Kind,
        known: &KnownNames,
    ) -> Result<Template, TemplateError> {
        let t = Template::parse(text, kind)?;
        t.validate(known)?;
        Ok(t)
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// Placeholder names in order of use (repeats included), lower-cased.
    pub fn placeholders(&self) -> Vec<&str> {
        fn from<'a>(segs: &'a [Segment], out: &mut Vec<&'a str>) {
            for s in segs {
                if let Segment::Placeholder(n) = s {
                    out.push(n.as_str());
                }
            }
        }
        let mut out = Vec::new();
        match &self.body {
            Body::Json(node) => json::placeholders(node, &mut out),
            Body::Form(pairs) => {
                for p in pairs {
                    from(&p.key, &mut out);
                    if let Some(v) = &p.value {
                        from(v, &mut out);
                    }
                }
            }
            Body::Segments(segs) => from(segs, &mut out),
        }
        out
    }

    /// Refuses placeholders that are not in `known`, listing all of them and every known
    /// name.
    pub fn validate(&self, known: &KnownNames) -> Result<(), TemplateError> {
        known.check(self.placeholders())
    }

    /// Fills the template. Only a header (a value with a line break) and a URL (a value
    /// of `.` or `..` as a path segment) can fail.
    pub fn render(&self, ctx: &RenderContext) -> Result<String, RenderError> {
        Ok(match (&self.body, self.kind) {
            (Body::Json(node), _) => json::render(node, ctx),
            (Body::Form(pairs), _) => encode::render_form(pairs, ctx),
            (Body::Segments(segs), Kind::Xml) => {
                let mut out = String::new();
                for seg in segs {
                    match seg {
                        Segment::Literal(l) => out.push_str(l),
                        Segment::Placeholder(name) => xml::escape(&ctx.text(name), &mut out),
                    }
                }
                out
            }
            (Body::Segments(segs), Kind::Url { already_encoded }) => {
                encode::render_url(segs, ctx, already_encoded)?
            }
            (Body::Segments(segs), Kind::Header) => encode::render_header(segs, ctx)?,
            (Body::Segments(segs), _) => encode::render_text(segs, ctx),
        })
    }

    /// For a JSON template, the rendered tree as a `serde_json::Value` (for presets and the
    /// preview); for other kinds, the rendered text as a JSON string.
    pub fn render_value(&self, ctx: &RenderContext) -> Result<serde_json::Value, RenderError> {
        match &self.body {
            Body::Json(node) => Ok(json::render_value(node, ctx)),
            _ => self.render(ctx).map(serde_json::Value::String),
        }
    }

    /// Renders a text template with `escape` applied to each value (not to the literal
    /// text): for services whose message text has markup of its own, such as Slack's.
    pub fn render_escaped(
        &self,
        ctx: &RenderContext,
        escape: fn(&str) -> String,
    ) -> Result<String, RenderError> {
        match (&self.body, self.kind) {
            (Body::Segments(segs), Kind::Text) => Ok(segs
                .iter()
                .map(|seg| match seg {
                    Segment::Literal(l) => l.clone(),
                    Segment::Placeholder(name) => escape(&ctx.text(name)),
                })
                .collect()),
            _ => self.render(ctx),
        }
    }
}
