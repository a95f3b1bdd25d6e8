//! What can go wrong talking to a PTZ camera, in terms a user can act on, and how each case maps
//! onto the appliance's one error type.

use std::fmt;
use std::time::Duration;

use vs_base::{Error, ErrorKind};

/// A SOAP fault as the camera sent it: code, subcodes (local names, outermost first), reason.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SoapFault {
    pub code: String,
    pub subcodes: Vec<String>,
    pub reason: String,
}

impl fmt::Display for SoapFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code)?;
        for s in &self.subcodes {
            write!(f, "/{s}")?;
        }
        if !self.reason.is_empty() {
            write!(f, ": {}", self.reason)?;
        }
        Ok(())
    }
}

/// Errors of the ONVIF client and of settling a move.
#[derive(Debug, Clone, PartialEq)]
pub enum OnvifError {
    /// The camera has no PTZ service, or the profile has no PTZ configuration.
    NotPtzCapable(String),
    /// The camera rejected the credentials (HTTP 401 after the digest retry, or a
    /// `NotAuthorized` fault).
    AuthFailed(String),
    /// The camera does not implement this operation.
    NotSupported { action: String, detail: String },
    /// The camera does not know this profile or preset token.
    NotFound(String),
    /// Nothing answered at the address (refused, no route, DNS failure).
    Unreachable(String),
    /// The camera did not answer, or did not settle, in time.
    Timeout(String),
    /// Any other SOAP fault.
    Fault { action: String, fault: SoapFault },
    /// The camera answered something that is not a usable ONVIF response.
    Protocol(String),
    /// Something answered at the address, but not with SOAP: a web page, an RTSP server, an
    /// empty reply. Almost always the wrong port.
    NotOnvif {
        /// `host:port` as configured.
        target: String,
        /// What came back instead, e.g. `HTTP 200, text/html`.
        answer: String,
    },
    /// The caller passed a value that cannot be sent (empty token, NaN position).
    InvalidInput(String),
}

impl OnvifError {
    /// A stable machine-readable code; the first five match the camera test's `error_kind`.
    pub fn code(&self) -> &'static str {
        match self {
            OnvifError::AuthFailed(_) => "auth_failed",
            OnvifError::Unreachable(_) => "unreachable",
            OnvifError::NotFound(_) => "not_found",
            OnvifError::Timeout(_) => "timeout",
            OnvifError::Protocol(_) | OnvifError::NotOnvif { .. } => "protocol",
            OnvifError::NotPtzCapable(_) => "not_ptz_capable",
            OnvifError::NotSupported { .. } => "not_supported",
            OnvifError::Fault { .. } => "device_fault",
            OnvifError::InvalidInput(_) => "invalid_input",
        }
    }

    pub fn elapsed_timeout(what: &str, after: Duration) -> Self {
        OnvifError::Timeout(format!(
            "the camera did not answer {what} within {:.1} s",
            after.as_secs_f64()
        ))
    }
}

impl fmt::Display for OnvifError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OnvifError::NotPtzCapable(m) => write!(f, "the camera cannot pan/tilt/zoom: {m}"),
            OnvifError::AuthFailed(m) => {
                f.write_str("the camera rejected the ONVIF username or password")?;
                if !m.is_empty() {
                    write!(f, " ({m})")?;
                }
                f.write_str("; check the camera's credentials and that its clock is roughly right")
            }
            OnvifError::NotSupported { action, detail } => {
                write!(f, "the camera does not support {action}")?;
                if !detail.is_empty() {
                    write!(f, " ({detail})")?;
                }
                Ok(())
            }
            OnvifError::NotFound(m) => f.write_str(m),
            OnvifError::Unreachable(m) => write!(f, "cannot reach the camera: {m}"),
            OnvifError::Timeout(m) => f.write_str(m),
            OnvifError::Fault { action, fault } => {
                write!(f, "the camera refused {action}: {fault}")
            }
            OnvifError::Protocol(m) => write!(f, "unexpected answer from the camera: {m}"),
            OnvifError::NotOnvif { target, answer } => write!(
                f,
                "the device at {target} answered, but not with ONVIF SOAP ({answer}) — is this \
                 the ONVIF port? Common ONVIF ports are 8899, 80, 8000"
            ),
            OnvifError::InvalidInput(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for OnvifError {}

impl From<OnvifError> for Error {
    fn from(e: OnvifError) -> Self {
        // Auth failures are the camera's, not the user's session: mapping them to
        // Unauthenticated would make the UI think its own login expired.
        let kind = match &e {
            OnvifError::Timeout(_) => ErrorKind::Timeout,
            OnvifError::InvalidInput(_) => ErrorKind::Validation,
            _ => ErrorKind::Device,
        };
        Error::new(kind, e.to_string())
    }
}

pub type Result<T, E = OnvifError> = std::result::Result<T, E>;

/// Fault subcodes (local names) that mean the credentials or the timestamp were rejected.
const AUTH_SUBCODES: &[&str] = &[
    "NotAuthorized",
    "FailedAuthentication",
    "InvalidSecurity",
    "InvalidSecurityToken",
    "FailedCheck",
    "SecurityTokenUnavailable",
    "MessageExpired",
];
const UNSUPPORTED_SUBCODES: &[&str] = &[
    "ActionNotSupported",
    "NotSupported",
    "NoSuchService",
    "OperationNotSupported",
    "InvalidOperation",
];
const NOT_PTZ_SUBCODES: &[&str] = &["NoPTZProfile", "NoPTZNode"];
const NOT_FOUND_SUBCODES: &[&str] = &["NoProfile", "NoToken", "NoEntity"];

/// Turns a camera's fault into the error a user can act on.
pub fn classify_fault(action: &str, fault: SoapFault) -> OnvifError {
    let names: Vec<&str> = std::iter::once(fault.code.as_str())
        .chain(fault.subcodes.iter().map(String::as_str))
        .map(local)
        .collect();
    let has = |set: &[&str]| names.iter().any(|n| set.contains(n));
    let reason = fault.reason.to_ascii_lowercase();

    // gSOAP's wsse plugin and several firmwares put the reason only in the text.
    if has(AUTH_SUBCODES)
        || reason.contains("not authorized")
        || reason.contains("unauthorized")
        || reason.contains("authentication")
    {
        return OnvifError::AuthFailed(format!("{action}: {fault}"));
    }
    if has(NOT_PTZ_SUBCODES) {
        return OnvifError::NotPtzCapable(fault.to_string());
    }
    if has(UNSUPPORTED_SUBCODES)
        || reason.contains("not implemented")
        || reason.contains("not supported")
    {
        return OnvifError::NotSupported {
            action: action.to_string(),
            detail: fault.to_string(),
        };
    }
    if has(NOT_FOUND_SUBCODES) {
        return OnvifError::NotFound(format!("the camera does not know that token ({fault})"));
    }
    OnvifError::Fault {
        action: action.to_string(),
        fault,
    }
}

fn local(qname: &str) -> &str {
    qname.rsplit(':').next().unwrap_or(qname).trim()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fault(code: &str, subs: &[&str], reason: &str) -> SoapFault {
        SoapFault {
            code: code.into(),
            subcodes: subs.iter().map(|s| s.to_string()).collect(),
            reason: reason.into(),
        }
    }

    #[test]
    fn faults_are_classified_by_local_name() {
        let f = fault(
            "env:Sender",
            &["ter:NotAuthorized"],
            "Sender not Authorized",
        );
        assert_eq!(classify_fault("GetPresets", f).code(), "auth_failed");
        let f = fault(
            "SOAP-ENV:Receiver",
            &["ter:ActionNotSupported"],
            "Optional Action Not Implemented",
        );
        assert_eq!(classify_fault("GetNodes", f).code(), "not_supported");
        let f = fault("s:Sender", &["ter:InvalidArgVal", "ter:NoToken"], "");
        assert_eq!(classify_fault("GotoPreset", f).code(), "not_found");
        let f = fault("s:Sender", &["ter:InvalidArgVal", "ter:NoPTZProfile"], "");
        assert_eq!(classify_fault("GotoPreset", f).code(), "not_ptz_capable");
        let f = fault("s:Receiver", &[], "busy");
        assert_eq!(classify_fault("GotoPreset", f).code(), "device_fault");
    }

    #[test]
    fn messages_have_no_empty_parentheses() {
        assert_eq!(
            OnvifError::AuthFailed(String::new()).to_string(),
            "the camera rejected the ONVIF username or password; check the camera's credentials \
             and that its clock is roughly right"
        );
        let e = OnvifError::NotSupported {
            action: "RemovePreset".into(),
            detail: String::new(),
        };
        assert_eq!(e.to_string(), "the camera does not support RemovePreset");
    }

    #[test]
    fn maps_onto_base_kinds() {
        let e: Error = OnvifError::AuthFailed("x".into()).into();
        assert_eq!(e.kind, ErrorKind::Device);
        let e: Error = OnvifError::Timeout("x".into()).into();
        assert_eq!(e.kind, ErrorKind::Timeout);
        let e: Error = OnvifError::InvalidInput("x".into()).into();
        assert_eq!(e.kind, ErrorKind::Validation);
    }
}
