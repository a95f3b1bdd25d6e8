//! SOAP 1.2 envelopes: building a request around an operation, and taking a response apart into
//! its operation element or its fault.

use crate::error::{OnvifError, SoapFault};
use crate::xml::{self, Element};

pub const SOAP12_NS: &str = "http://www.w3.org/2003/05/soap-envelope";
pub const SOAP11_NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";
pub const DEVICE_NS: &str = "http://www.onvif.org/ver10/device/wsdl";
pub const MEDIA_NS: &str = "http://www.onvif.org/ver10/media/wsdl";
pub const MEDIA2_NS: &str = "http://www.onvif.org/ver20/media/wsdl";
pub const PTZ_NS: &str = "http://www.onvif.org/ver20/ptz/wsdl";
pub const SCHEMA_NS: &str = "http://www.onvif.org/ver10/schema";

/// Wraps an operation element (and an optional security header) in a SOAP 1.2 envelope.
pub fn envelope(body: &str, security_header: Option<&str>) -> String {
    format!(
        concat!(
            r#"<?xml version="1.0" encoding="UTF-8"?>"#,
            r#"<s:Envelope xmlns:s="{s}"><s:Header>{h}</s:Header><s:Body>{b}</s:Body></s:Envelope>"#
        ),
        s = SOAP12_NS,
        h = security_header.unwrap_or(""),
        b = body
    )
}

/// What a response envelope carried.
#[derive(Debug)]
pub enum Reply {
    /// The first element of the Body: the operation's response.
    Ok(Element),
    Fault(SoapFault),
}

/// Parses a response envelope. Accepts SOAP 1.1 too, since some firmwares answer in it.
pub fn parse_reply(text: &str) -> Result<Reply, OnvifError> {
    let root = xml::parse(text).map_err(OnvifError::Protocol)?;
    if root.name != "Envelope" {
        return Err(OnvifError::Protocol(format!(
            "expected a SOAP Envelope, got <{}>",
            root.name
        )));
    }
    let body = root
        .child("Body")
        .ok_or_else(|| OnvifError::Protocol("SOAP envelope without a Body".into()))?;
    let first = body
        .first_child()
        .ok_or_else(|| OnvifError::Protocol("empty SOAP Body".into()))?;
    if first.name == "Fault" {
        return Ok(Reply::Fault(parse_fault(first)));
    }
    Ok(Reply::Ok(first.clone()))
}

/// Reads a Fault element of either SOAP version.
pub fn parse_fault(fault: &Element) -> SoapFault {
    if let Some(code) = fault.child("Code") {
        let mut subcodes = Vec::new();
        let mut cur = code.child("Subcode");
        while let Some(sc) = cur {
            if let Some(v) = sc.child_text("Value") {
                subcodes.push(v.to_string());
            }
            cur = sc.child("Subcode");
        }
        let reason = fault
            .child("Reason")
            .and_then(|r| r.child("Text"))
            .map(|t| t.text().to_string())
            .unwrap_or_default();
        SoapFault {
            code: code.child_text("Value").unwrap_or_default().to_string(),
            subcodes,
            reason,
        }
    } else {
        SoapFault {
            code: fault
                .child_text("faultcode")
                .unwrap_or_default()
                .to_string(),
            subcodes: Vec::new(),
            reason: fault
                .child_text("faultstring")
                .unwrap_or_default()
                .to_string(),
        }
    }
}

/// Builds a SOAP 1.2 fault body (server side).
pub fn fault_body(code: &str, subcodes: &[&str], reason: &str) -> String {
    let mut sub = String::new();
    for s in subcodes {
        sub.push_str(&format!("<s:Subcode><s:Value>{}</s:Value>", xml::escape(s)));
    }
    for _ in subcodes {
        sub.push_str("</s:Subcode>");
    }
    format!(
        concat!(
            "<s:Fault><s:Code><s:Value>{}</s:Value>{}</s:Code>",
            r#"<s:Reason><s:Text xml:lang="en">{}</s:Text></s:Reason></s:Fault>"#
        ),
        xml::escape(code),
        sub,
        xml::escape(reason)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn soap12_fault_with_nested_subcodes() {
        let text = format!(
            r#"<s:Envelope xmlns:s="{SOAP12_NS}"><s:Body>{}</s:Body></s:Envelope>"#,
            fault_body(
                "s:Sender",
                &["ter:InvalidArgVal", "ter:NoToken"],
                "No such preset"
            )
        );
        let Reply::Fault(f) = parse_reply(&text).unwrap() else {
            panic!("expected a fault")
        };
        assert_eq!(f.code, "s:Sender");
        assert_eq!(f.subcodes, ["ter:InvalidArgVal", "ter:NoToken"]);
        assert_eq!(f.reason, "No such preset");
    }

    #[test]
    fn soap11_fault() {
        let text = format!(
            r#"<SOAP-ENV:Envelope xmlns:SOAP-ENV="{SOAP11_NS}"><SOAP-ENV:Body><SOAP-ENV:Fault><faultcode>SOAP-ENV:Client</faultcode><faultstring>Method 'tptz:Foo' not implemented</faultstring></SOAP-ENV:Fault></SOAP-ENV:Body></SOAP-ENV:Envelope>"#
        );
        let Reply::Fault(f) = parse_reply(&text).unwrap() else {
            panic!("expected a fault")
        };
        assert_eq!(f.code, "SOAP-ENV:Client");
        assert!(f.reason.contains("not implemented"));
    }

    #[test]
    fn non_soap_is_a_protocol_error() {
        assert!(matches!(
            parse_reply("<html><body>login</body></html>"),
            Err(OnvifError::Protocol(_))
        ));
    }
}
