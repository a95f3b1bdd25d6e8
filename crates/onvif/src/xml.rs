//! A small namespace-aware XML tree for SOAP messages, matched by local name.
//!
//! Cameras disagree on prefixes (`tt:`, `onvif:`, `ns2:`, none at all), so every lookup here is
//! by local name; the resolved namespace URI is kept for the few places that need it (telling a
//! SOAP envelope apart, comparing a request with a capture).

use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::NsReader;

/// Responses bigger than this are not ONVIF answers we need; refusing them bounds memory.
const MAX_ELEMENTS: usize = 200_000;
const MAX_DEPTH: usize = 256;

/// One element: its namespace URI, local name, attributes (by local name), text and children.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Element {
    pub ns: Option<String>,
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub text: String,
    pub children: Vec<Element>,
}

impl Element {
    /// The first direct child with this local name.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// All direct children with this local name.
    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// Follows a chain of direct children by local name.
    pub fn path(&self, names: &[&str]) -> Option<&Element> {
        names.iter().try_fold(self, |e, n| e.child(n))
    }

    /// The first element with this local name anywhere below (depth first), or self.
    pub fn find(&self, name: &str) -> Option<&Element> {
        if self.name == name {
            return Some(self);
        }
        self.children.iter().find_map(|c| c.find(name))
    }

    /// Every element with this local name anywhere below, in document order.
    pub fn find_all<'a>(&'a self, name: &str) -> Vec<&'a Element> {
        let mut out = Vec::new();
        self.collect(name, &mut out);
        out
    }

    fn collect<'a>(&'a self, name: &str, out: &mut Vec<&'a Element>) {
        if self.name == name {
            out.push(self);
        }
        for c in &self.children {
            c.collect(name, out);
        }
    }

    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The element's own text, trimmed.
    pub fn text(&self) -> &str {
        self.text.trim()
    }

    /// The trimmed text of a direct child, if present.
    pub fn child_text(&self, name: &str) -> Option<&str> {
        self.child(name).map(Element::text)
    }

    /// The first element child (e.g. the operation inside a SOAP Body).
    pub fn first_child(&self) -> Option<&Element> {
        self.children.first()
    }
}

/// Parses a document into its root element.
pub fn parse(input: &str) -> Result<Element, String> {
    let mut reader = NsReader::from_str(input);
    reader.config_mut().trim_text(false);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut count = 0usize;

    loop {
        let (ns, event) = reader
            .read_resolved_event()
            .map_err(|e| format!("malformed XML: {e}"))?;
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                count += 1;
                if count > MAX_ELEMENTS || stack.len() > MAX_DEPTH {
                    return Err("XML document is too large or too deep".into());
                }
                let mut el = Element {
                    ns: namespace(&ns),
                    name: String::from_utf8_lossy(e.local_name().as_ref()).into_owned(),
                    ..Element::default()
                };
                for attr in e.attributes() {
                    let attr = attr.map_err(|e| format!("malformed XML attribute: {e}"))?;
                    let key = attr.key;
                    if key.as_ref().starts_with(b"xmlns") {
                        continue;
                    }
                    let value = attr
                        .unescape_value()
                        .map_err(|e| format!("malformed XML attribute value: {e}"))?;
                    el.attrs.push((
                        String::from_utf8_lossy(key.local_name().as_ref()).into_owned(),
                        value.into_owned(),
                    ));
                }
                if matches!(event, Event::Empty(_)) {
                    attach(&mut stack, &mut root, el)?;
                } else {
                    stack.push(el);
                }
            }
            Event::End(_) => {
                let el = stack.pop().ok_or("unbalanced XML end tag")?;
                attach(&mut stack, &mut root, el)?;
            }
            Event::Text(t) => {
                if let Some(top) = stack.last_mut() {
                    let text = t
                        .unescape()
                        .map_err(|e| format!("malformed XML text: {e}"))?;
                    top.text.push_str(&text);
                }
            }
            Event::CData(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&String::from_utf8_lossy(&t));
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !stack.is_empty() {
        return Err("XML document ended inside an element".into());
    }
    root.ok_or_else(|| "empty XML document".into())
}

fn namespace(ns: &ResolveResult<'_>) -> Option<String> {
    match ns {
        ResolveResult::Bound(n) => Some(String::from_utf8_lossy(n.as_ref()).into_owned()),
        _ => None,
    }
}

fn attach(stack: &mut [Element], root: &mut Option<Element>, el: Element) -> Result<(), String> {
    match stack.last_mut() {
        Some(parent) => parent.children.push(el),
        None if root.is_none() => *root = Some(el),
        None => return Err("XML document has more than one root element".into()),
    }
    Ok(())
}

/// Escapes text for element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_do_not_matter() {
        let a = parse(r#"<a:Root xmlns:a="urn:x"><a:Item k="1">one</a:Item></a:Root>"#).unwrap();
        let b = parse(r#"<Root xmlns="urn:x"><Item k="1">one</Item></Root>"#).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.ns.as_deref(), Some("urn:x"));
        assert_eq!(a.child("Item").unwrap().attr("k"), Some("1"));
    }

    #[test]
    fn entities_and_cdata_are_decoded() {
        let e = parse("<r><n>a &amp; b</n><c><![CDATA[<x>]]></c></r>").unwrap();
        assert_eq!(e.child_text("n"), Some("a & b"));
        assert_eq!(e.child_text("c"), Some("<x>"));
        assert_eq!(escape("<a&'\">"), "&lt;a&amp;&apos;&quot;&gt;");
    }

    #[test]
    fn malformed_is_an_error() {
        assert!(parse("<a><b></a>").is_err());
        assert!(parse("").is_err());
        assert!(parse("<a>").is_err());
    }
}
