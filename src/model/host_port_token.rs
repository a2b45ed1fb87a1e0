//! The host-port token: what `{{ host_port(service="db", port=3306) }}` renders to in a
//! definition, standing for the host port `up` allocates to `db`'s container port 3306.
//!
//! The one place that writes and reads the token: the definition renders it, validation
//! checks what it refers to, the planner replaces it with the allocated port, `up --local`
//! and `render` show it for humans.

/// The token's delimiters: `@@envctl:host_port:<service>:<port>@@`.
const START: &str = "@@envctl:host_port:";
const END: &str = "@@";

/// What one token refers to: a service's container port.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HostPortRef {
    pub service: String,
    pub port: u16,
}

impl std::fmt::Display for HostPortRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.service, self.port)
    }
}

/// Why a text with tokens could not be expanded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("unterminated host-port token in `{text}`")]
    Unterminated { text: String },
    #[error("malformed host-port token `{body}`")]
    Malformed { body: String },
    /// The lookup did not know the port (the caller says why: unknown service, port not
    /// published, instance not up).
    #[error("host_port refers to port {} of `{}`, which has no host port", .0.port, .0.service)]
    Unknown(HostPortRef),
}

/// The token that stands for the host port of `service`'s container `port`.
pub fn format(service: &str, port: u16) -> String {
    format!("{START}{service}:{port}{END}")
}

/// One piece of a text: literal text, or a token.
enum Piece<'a> {
    Text(&'a str),
    Token(Result<HostPortRef, TokenError>),
}

/// Splits `text` into literal text and tokens, in order.
fn pieces(text: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(START) {
        out.push(Piece::Text(&rest[..start]));
        let after = &rest[start + START.len()..];
        let Some(end) = after.find(END) else {
            out.push(Piece::Token(Err(TokenError::Unterminated {
                text: text.to_string(),
            })));
            return out;
        };
        let body = &after[..end];
        let parsed = body
            .rsplit_once(':')
            .and_then(|(service, port)| {
                Some(HostPortRef {
                    service: service.to_string(),
                    port: port.parse().ok()?,
                })
            })
            .ok_or_else(|| TokenError::Malformed {
                body: body.to_string(),
            });
        out.push(Piece::Token(parsed));
        rest = &after[end + END.len()..];
    }
    out.push(Piece::Text(rest));
    out
}

/// Every well-formed token in `text`, in order.
pub fn parse_all(text: &str) -> Vec<HostPortRef> {
    pieces(text)
        .into_iter()
        .filter_map(|p| match p {
            Piece::Token(Ok(r)) => Some(r),
            _ => None,
        })
        .collect()
}

/// `text` with every token replaced by what `replace` makes of it; the first error (a
/// malformed token, or one `replace` refuses) stops the expansion.
pub fn replace_with<E: From<TokenError>>(
    text: &str,
    mut replace: impl FnMut(&HostPortRef) -> Result<String, E>,
) -> Result<String, E> {
    let mut out = String::with_capacity(text.len());
    for piece in pieces(text) {
        match piece {
            Piece::Text(t) => out.push_str(t),
            Piece::Token(token) => out.push_str(&replace(&token?)?),
        }
    }
    Ok(out)
}

/// `text` with every token replaced by `lookup(service, port)`; a token the lookup does not
/// know is an error naming it.
pub fn expand(text: &str, lookup: impl Fn(&str, u16) -> Option<u16>) -> Result<String, TokenError> {
    replace_with(text, |r| {
        lookup(&r.service, r.port)
            .map(|p| p.to_string())
            .ok_or_else(|| TokenError::Unknown(r.clone()))
    })
}

/// `text` with every token shown for humans: the host port when `lookup` knows it, else
/// `<host port of SERVICE:PORT, allocated at up>`. Malformed tokens stay as they are.
pub fn display(text: &str, lookup: impl Fn(&str, u16) -> Option<u16>) -> String {
    let shown = replace_with(text, |r| {
        Ok::<_, TokenError>(match lookup(&r.service, r.port) {
            Some(port) => port.to_string(),
            None => placeholder(r),
        })
    });
    shown.unwrap_or_else(|_| text.to_string())
}

/// How a token whose port is not allocated yet is shown.
pub fn placeholder(r: &HostPortRef) -> String {
    format!("<host port of {r}, allocated at up>")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(service: &str, port: u16) -> HostPortRef {
        HostPortRef {
            service: service.into(),
            port,
        }
    }

    #[test]
    fn tokens_round_trip() {
        let text = format!("{}:{}", format("a-b", 80), format("c", 9));
        assert_eq!(parse_all(&text), [r("a-b", 80), r("c", 9)]);
        assert_eq!(parse_all("plain"), []);
    }

    #[test]
    fn expand_replaces_known_tokens_and_names_the_unknown() {
        let lookup = |s: &str, p: u16| (s == "a-b" && p == 80).then_some(32768);
        assert_eq!(
            expand(&format!("x={}", format("a-b", 80)), lookup),
            Ok("x=32768".into())
        );
        assert_eq!(
            expand(&format("c", 9), lookup),
            Err(TokenError::Unknown(r("c", 9)))
        );
        assert_eq!(expand("plain", lookup), Ok("plain".into()));
        assert!(matches!(
            expand("@@envctl:host_port:db:3306", lookup),
            Err(TokenError::Unterminated { .. })
        ));
        assert!(matches!(
            expand("@@envctl:host_port:db:x@@", lookup),
            Err(TokenError::Malformed { .. })
        ));
    }

    #[test]
    fn display_shows_ports_or_a_readable_placeholder() {
        let text = format!("{}/{}", format("order", 50051), format("db", 3306));
        let shown = display(&text, |s, _| (s == "db").then_some(41000));
        assert_eq!(shown, "<host port of order:50051, allocated at up>/41000");
    }
}
