//! Client errors: what went wrong talking to 3Commas, typed so callers can act on it.
//!
//! A 3Commas error body keeps its `error_attributes`, so a rejected field can later be pointed at
//! in the user's file. Messages never contain credentials or signatures.

use super::wire::ErrorBody;

#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    /// 3Commas answered with an error status and body.
    #[error("3Commas rejected {method} {path} ({status}): {}", describe(body))]
    Rejected {
        method: &'static str,
        path: String,
        status: u16,
        body: ErrorBody,
    },
    /// 401: wrong key, wrong signature, expired key or an IP not on the key's whitelist.
    #[error(
        "3Commas refused the credentials ({}): check THREECOMMAS_API_KEY and THREECOMMAS_API_SECRET",
        describe(body)
    )]
    Unauthorized { body: ErrorBody },
    /// 429 that means "your subscription plan does not allow this": never retried.
    #[error("3Commas plan restriction: {message}")]
    PlanRestricted { message: String },
    /// 429 rate limit that persisted after pausing: botform stops sending for this run.
    #[error(
        "3Commas rate limit: still refused after pausing all requests; botform sent nothing more. Try again in 5 minutes, and lower THREECOMMAS_RATE_LIMIT if your 3Commas plan allows fewer requests"
    )]
    RateLimited,
    /// 418: the IP is banned for ignoring rate limits: botform stops sending at once, because
    /// every further request makes the ban longer; the ban's end is shared with every botform
    /// process on this machine, which send nothing before it.
    #[error(
        "3Commas has banned this IP (HTTP 418) for sending too many requests; botform sends nothing before {until} (UTC), from any process on this machine: try again after that (3Commas lengthens the ban, up to 3 days, while requests keep coming)"
    )]
    Banned { until: String },
    /// The request may or may not have reached 3Commas (timeout, reset, 5xx after sending). A
    /// write that fails this way must be checked on the server before it is tried again.
    #[error("no clear answer from 3Commas for {method} {path}: {reason}")]
    Ambiguous {
        method: &'static str,
        path: String,
        reason: String,
    },
    /// The request did not reach 3Commas (connection refused, DNS); safe to retry.
    #[error("cannot reach 3Commas at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    /// 3Commas answered with something botform cannot read.
    #[error("unexpected answer from 3Commas for {path}: {reason}")]
    Decode { path: String, reason: String },
    #[error("{0}")]
    Config(String),
}

fn describe(body: &ErrorBody) -> String {
    let mut text = body.error.clone();
    if let Some(d) = &body.error_description {
        text.push_str(": ");
        text.push_str(d);
    }
    if let Some(attrs) = &body.error_attributes {
        for (field, messages) in attrs {
            text.push_str(&format!("; {field} {}", messages.join(", ")));
        }
    }
    text
}

impl ApiError {
    /// Whether the request may have taken effect although no success was seen.
    pub fn is_ambiguous(&self) -> bool {
        matches!(self, ApiError::Ambiguous { .. })
    }

    /// The HTTP status, when 3Commas answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Rejected { status, .. } => Some(*status),
            ApiError::Unauthorized { .. } => Some(401),
            ApiError::PlanRestricted { .. } | ApiError::RateLimited => Some(429),
            ApiError::Banned { .. } => Some(418),
            _ => None,
        }
    }

    /// Field-level messages from a 400 (`{"stop_loss_percentage": ["..."]}`).
    pub fn field_errors(&self) -> Option<&std::collections::BTreeMap<String, Vec<String>>> {
        match self {
            ApiError::Rejected { body, .. } => body.error_attributes.as_ref(),
            _ => None,
        }
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self, ApiError::Rejected { status: 404, .. })
    }
}
