//! Who may call what. Reads are open on a loopback bind and need the token elsewhere;
//! every state-changing request needs the token *and* must come from the page itself: its
//! `Origin` is this server. On loopback the `Host` must name this server too, so a web page
//! on another name that resolves to 127.0.0.1 (DNS rebinding) is refused before anything runs.

use std::io::Read;
use std::net::SocketAddr;

use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::api::ApiError;
use super::Shared;

/// The header scripts send the token in (`EventSource` cannot: it uses `?token=`).
pub const TOKEN_HEADER: &str = "x-envctl-token";

#[derive(Debug, thiserror::Error)]
#[error("cannot read random bytes for a token from /dev/urandom: {0}")]
pub struct TokenError(std::io::Error);

/// A fresh random token: 128 bits, hex.
pub fn generate_token() -> Result<String, TokenError> {
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(TokenError)?;
    Ok(hex::encode(bytes))
}

/// The access rules of one running server.
#[derive(Debug, Clone)]
pub struct Access {
    token: String,
    loopback: bool,
    /// The `Host` values this server answers to on loopback.
    hosts: Vec<String>,
}

impl Access {
    pub fn new(bound: SocketAddr, token: String) -> Self {
        let port = bound.port();
        let hosts = vec![
            bound.to_string(),
            format!("localhost:{port}"),
            format!("127.0.0.1:{port}"),
            format!("[::1]:{port}"),
        ];
        Self {
            token,
            loopback: bound.ip().is_loopback(),
            hosts,
        }
    }

    fn token_matches(&self, given: Option<&str>) -> bool {
        given.is_some_and(|given| constant_time_eq(given.as_bytes(), self.token.as_bytes()))
    }
}

/// Compares without stopping at the first difference, so timing does not reveal the token.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Every request: on loopback, the `Host` must be this server.
pub async fn host(State(state): State<Shared>, request: Request, next: Next) -> Response {
    if state.access.loopback {
        let host = request
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or_default();
        if !state.access.hosts.iter().any(|h| h == host) {
            return refuse(
                StatusCode::MISDIRECTED_REQUEST,
                format!("this server answers to {} only", state.access.hosts[0]),
            );
        }
    }
    next.run(request).await
}

/// Every `/api/` request: the token where needed, and the same-origin check for changes.
pub async fn check(State(state): State<Shared>, request: Request, next: Next) -> Response {
    let access = &state.access;
    let changes = request.method() != Method::GET && request.method() != Method::HEAD;
    let token = token_of(&request);
    if (changes || !access.loopback) && !access.token_matches(token.as_deref()) {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "missing or wrong token: open the URL `envctl ui` printed, or send the token in the \
             X-Envctl-Token header"
                .into(),
        );
    }
    if changes {
        if let Err(why) = same_origin(&request) {
            return refuse(StatusCode::FORBIDDEN, why);
        }
    }
    next.run(request).await
}

/// The token from the header, else from `?token=` (server-sent event streams).
fn token_of(request: &Request) -> Option<String> {
    if let Some(value) = request.headers().get(TOKEN_HEADER) {
        return value.to_str().ok().map(str::to_string);
    }
    request.uri().query().and_then(|query| {
        url::form_urlencoded::parse(query.as_bytes())
            .find(|(key, _)| key == "token")
            .map(|(_, value)| value.into_owned())
    })
}

/// A change must carry an `Origin` equal to `http://<Host>`: browsers always send it on a
/// POST, so a page elsewhere can never pass, token or not.
fn same_origin(request: &Request) -> Result<(), String> {
    let headers = request.headers();
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .ok_or("a change needs a Host header")?;
    let origin = headers
        .get(header::ORIGIN)
        .and_then(|h| h.to_str().ok())
        .ok_or_else(|| {
            format!("a change needs the header `Origin: http://{host}` (same-origin check)")
        })?;
    if origin != format!("http://{host}") {
        return Err(format!(
            "cross-origin request refused: Origin {origin} is not this server (http://{host})"
        ));
    }
    Ok(())
}

fn refuse(status: StatusCode, message: String) -> Response {
    ApiError { status, message }.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_hex() {
        let a = generate_token().unwrap();
        let b = generate_token().unwrap();
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn token_comparison() {
        let access = Access::new("127.0.0.1:8080".parse().unwrap(), "abc".into());
        assert!(access.token_matches(Some("abc")));
        assert!(!access.token_matches(Some("abd")));
        assert!(!access.token_matches(Some("ab")));
        assert!(!access.token_matches(None));
    }
}
