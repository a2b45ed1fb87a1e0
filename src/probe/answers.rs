//! Does a registered provider answer like a server of its protocol? A TCP accept is not
//! enough: a published port is accepted by docker-proxy even while nothing listens in the
//! container (the proxy then hangs up, or says nothing).
//!
//! - triple / gRPC (HTTP/2): the client preface must be answered with a SETTINGS frame;
//! - dubbo: a heartbeat request must be answered with a heartbeat response. The frame is
//!   apache/dubbo's `ExchangeCodec` (dubbo-remoting-api, `encodeRequest`/`decodeBody`): a
//!   16-byte header — magic `0xdabb`, a flag byte (`FLAG_REQUEST` 0x80 | `FLAG_TWOWAY` 0x40 |
//!   `FLAG_EVENT` 0x20 | serialization id, hessian2 = 2), a status byte, an 8-byte request id,
//!   a 4-byte body length — and a body holding the event data, `null` (hessian2: `N`). The
//!   response has no request flag, keeps the event flag and the id, status 20 (OK);
//! - anything else must at least keep a fresh connection open for a moment.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::ProbeFailed;

/// The client connection preface of HTTP/2 followed by an empty SETTINGS frame.
pub(super) const H2_PREFACE: &[u8] =
    b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00";
const H2_SETTINGS: u8 = 0x4;

pub(super) const DUBBO_MAGIC: [u8; 2] = [0xda, 0xbb];
pub(super) const FLAG_REQUEST: u8 = 0x80;
pub(super) const FLAG_TWOWAY: u8 = 0x40;
pub(super) const FLAG_EVENT: u8 = 0x20;
const HESSIAN2: u8 = 2;
const HESSIAN2_NULL: u8 = b'N';
pub(super) const STATUS_OK: u8 = 20;
pub(super) const DUBBO_HEADER_LEN: usize = 16;
/// Our heartbeat's request id: any value works, the answer must echo it.
const HEARTBEAT_ID: u64 = 0x656e_7663_746c; // "envctl"

/// How long a provider of another protocol must keep a fresh connection open.
const HANG_UP_WINDOW: Duration = Duration::from_millis(300);

const HUNG_UP: &str = "accepted the connection and hung up (nothing listening behind the port?)";

/// The answer a provider of `protocol` must give on `stream`.
pub(super) async fn answers(
    protocol: &str,
    stream: &mut TcpStream,
    timeout: Duration,
) -> Result<(), ProbeFailed> {
    match protocol {
        "tri" | "grpc" => http2_settings(stream, timeout).await,
        "dubbo" => dubbo_heartbeat(stream, timeout).await,
        _ => stays_open(stream).await,
    }
}

/// A heartbeat request as Dubbo's `ExchangeCodec.encodeRequest` writes one.
pub(super) fn heartbeat_request(id: u64) -> Vec<u8> {
    let mut frame = Vec::with_capacity(DUBBO_HEADER_LEN + 1);
    frame.extend_from_slice(&DUBBO_MAGIC);
    frame.push(FLAG_REQUEST | FLAG_TWOWAY | FLAG_EVENT | HESSIAN2);
    frame.push(0); // status: unused in requests
    frame.extend_from_slice(&id.to_be_bytes());
    frame.extend_from_slice(&1u32.to_be_bytes());
    frame.push(HESSIAN2_NULL);
    frame
}

/// Why a reply header is not the heartbeat response to request `id`, if it is not.
fn heartbeat_mismatch(header: &[u8; DUBBO_HEADER_LEN], id: u64) -> Option<String> {
    if header[..2] != DUBBO_MAGIC {
        return Some(format!(
            "answered, but not in the dubbo protocol (first bytes {:02x}{:02x})",
            header[0], header[1]
        ));
    }
    let flag = header[2];
    let reply_id = u64::from_be_bytes(header[4..12].try_into().unwrap_or_default());
    if flag & FLAG_REQUEST != 0 || flag & FLAG_EVENT == 0 || reply_id != id {
        return Some(format!(
            "answered the heartbeat with something else (flags {flag:#04x}, id {reply_id})"
        ));
    }
    if header[3] != STATUS_OK {
        return Some(format!("answered the heartbeat with status {}", header[3]));
    }
    None
}

async fn dubbo_heartbeat(stream: &mut TcpStream, timeout: Duration) -> Result<(), ProbeFailed> {
    let exchange = async {
        stream.write_all(&heartbeat_request(HEARTBEAT_ID)).await?;
        let mut header = [0u8; DUBBO_HEADER_LEN];
        stream.read_exact(&mut header).await?;
        Ok::<_, std::io::Error>(header)
    };
    match tokio::time::timeout(timeout, exchange).await {
        Ok(Ok(header)) => match heartbeat_mismatch(&header, HEARTBEAT_ID) {
            None => Ok(()),
            Some(reason) => Err(reason.into()),
        },
        Ok(Err(err)) if hung_up(&err) => Err(HUNG_UP.into()),
        Ok(Err(err)) => Err(err.to_string().into()),
        Err(_) => Err(format!("no answer to a dubbo heartbeat within {timeout:?}").into()),
    }
}

async fn http2_settings(stream: &mut TcpStream, timeout: Duration) -> Result<(), ProbeFailed> {
    let exchange = async {
        stream.write_all(H2_PREFACE).await?;
        let mut header = [0u8; 9];
        stream.read_exact(&mut header).await?;
        Ok::<_, std::io::Error>(header)
    };
    match tokio::time::timeout(timeout, exchange).await {
        Ok(Ok(header)) if header[3] == H2_SETTINGS => Ok(()),
        Ok(Ok(_)) => Err("answered the HTTP/2 preface without SETTINGS".into()),
        Ok(Err(err)) if hung_up(&err) => Err(HUNG_UP.into()),
        Ok(Err(err)) => Err(err.to_string().into()),
        Err(_) => Err(format!("no HTTP/2 answer within {timeout:?}").into()),
    }
}

/// A close with unread data arrives as a reset rather than an end of stream.
fn hung_up(err: &std::io::Error) -> bool {
    use std::io::ErrorKind::{BrokenPipe, ConnectionAborted, ConnectionReset, UnexpectedEof};
    matches!(
        err.kind(),
        UnexpectedEof | ConnectionReset | ConnectionAborted | BrokenPipe
    )
}

async fn stays_open(stream: &mut TcpStream) -> Result<(), ProbeFailed> {
    let mut byte = [0u8; 1];
    match tokio::time::timeout(HANG_UP_WINDOW, stream.read(&mut byte)).await {
        Ok(Ok(0)) => Err(HUNG_UP.into()),
        Ok(Err(err)) if hung_up(&err) => Err(HUNG_UP.into()),
        Ok(Err(err)) => Err(err.to_string().into()),
        // Still open (or the server speaks first): something is listening.
        Ok(Ok(_)) | Err(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_heartbeat_is_dubbos_event_request() {
        let frame = heartbeat_request(7);
        assert_eq!(
            frame,
            [0xda, 0xbb, 0xe2, 0, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 1, b'N']
        );
    }

    #[test]
    fn only_the_matching_heartbeat_response_passes() {
        let response = |flag: u8, status: u8, id: u64| {
            let mut h = [0u8; DUBBO_HEADER_LEN];
            h[..2].copy_from_slice(&DUBBO_MAGIC);
            h[2] = flag;
            h[3] = status;
            h[4..12].copy_from_slice(&id.to_be_bytes());
            h
        };
        let ok = FLAG_EVENT | HESSIAN2;
        assert_eq!(heartbeat_mismatch(&response(ok, STATUS_OK, 9), 9), None);
        for (header, want) in [
            (response(ok, STATUS_OK, 8), "something else"),
            (response(ok | FLAG_REQUEST, STATUS_OK, 9), "something else"),
            (response(HESSIAN2, STATUS_OK, 9), "something else"),
            (response(ok, 90, 9), "status 90"),
            (*b"HTTP/1.1 400 Bad", "not in the dubbo protocol"),
        ] {
            let why = heartbeat_mismatch(&header, 9).unwrap();
            assert!(why.contains(want), "{why}");
        }
    }
}
