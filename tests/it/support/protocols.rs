//! "The service answers", in the service's own protocol: a TCP connect to a published port
//! succeeds with nothing (or the wrong thing) behind it, so these speak HTTP, Redis, ZooKeeper
//! and SQL instead, each bounded by a timeout and returning what went wrong.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(10);

fn connect(port: u16) -> Result<TcpStream, String> {
    connect_at("127.0.0.1", port)
}

fn connect_at(host: &str, port: u16) -> Result<TcpStream, String> {
    let ip: std::net::IpAddr = host.parse().map_err(|e| format!("{host}: {e}"))?;
    let addr = std::net::SocketAddr::new(ip, port);
    let stream = TcpStream::connect_timeout(&addr, TIMEOUT).map_err(|e| format!("{addr}: {e}"))?;
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    stream.set_write_timeout(Some(TIMEOUT)).unwrap();
    Ok(stream)
}

/// Sends `request` and reads until the server closes the connection.
fn exchange(host: &str, port: u16, request: &[u8]) -> Result<String, String> {
    let mut stream = connect_at(host, port)?;
    stream
        .write_all(request)
        .map_err(|e| format!("{host}:{port}: sending: {e}"))?;
    let mut answer = Vec::new();
    stream
        .read_to_end(&mut answer)
        .map_err(|e| format!("{host}:{port}: reading: {e}"))?;
    Ok(String::from_utf8_lossy(&answer).into_owned())
}

/// `GET path` over HTTP/1.0 on a loopback port: the status code and the body.
pub fn http_get(port: u16, path: &str) -> Result<(u16, String), String> {
    http_get_at("127.0.0.1", port, path)
}

/// `GET path` over HTTP/1.0 on `host` (an IP address): the status code and the body.
pub fn http_get_at(host: &str, port: u16, path: &str) -> Result<(u16, String), String> {
    http_get_with_headers(host, port, path, &[])
}

/// `GET path` over HTTP/1.0 on `host` (an IP address) with extra request `headers`.
pub fn http_get_with_headers(
    host: &str,
    port: u16,
    path: &str,
    headers: &[(&str, &str)],
) -> Result<(u16, String), String> {
    let extra: String = headers
        .iter()
        .map(|(name, value)| format!("{name}: {value}\r\n"))
        .collect();
    let request = format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n{extra}\r\n");
    let answer = exchange(host, port, request.as_bytes())?;
    let (head, body) = answer
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("GET {path} on {port}: not an HTTP response: {answer:?}"))?;
    let status = head
        .strip_prefix("HTTP/1.")
        .and_then(|rest| rest.get(2..5))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| format!("GET {path} on {port}: no HTTP status line: {head:?}"))?;
    Ok((status, body.to_string()))
}

/// Redis `PING` on a loopback port answers `+PONG`.
pub fn redis_ping(port: u16) -> Result<(), String> {
    let mut stream = connect(port)?;
    stream
        .write_all(b"*1\r\n$4\r\nPING\r\n")
        .map_err(|e| format!("redis on {port}: {e}"))?;
    let mut reply = [0u8; 7];
    stream
        .read_exact(&mut reply)
        .map_err(|e| format!("redis on {port}: {e}"))?;
    match &reply {
        b"+PONG\r\n" => Ok(()),
        other => Err(format!(
            "redis on {port} answered {:?}",
            String::from_utf8_lossy(other)
        )),
    }
}

/// ZooKeeper's `srvr` four-letter word (whitelisted by default): the server reports its
/// version and mode, which a server without quorum or a foreign process would not.
pub fn zookeeper_srvr(port: u16) -> Result<String, String> {
    let answer = exchange("127.0.0.1", port, b"srvr")?;
    if answer.contains("Zookeeper version:") && answer.contains("Mode: ") {
        Ok(answer)
    } else {
        Err(format!("zookeeper on {port} answered srvr with {answer:?}"))
    }
}

/// A SQL query run by the MariaDB client inside `container`, over TCP to 127.0.0.1:3306 (so
/// through the server's network listener, not its socket): the result rows, tab-separated.
pub fn sql_query(container: &str, password: &str, query: &str) -> Result<String, String> {
    super::docker_stdout(&[
        "exec",
        container,
        "mariadb",
        "--protocol=tcp",
        "-h127.0.0.1",
        "-P3306",
        "-uroot",
        &format!("-p{password}"),
        "--batch",
        "--skip-column-names",
        "-e",
        query,
    ])
}
