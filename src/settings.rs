//! The environment variables envctl reads, each parsed in one place and checked once at
//! startup (`check_environment`), so an empty or malformed value is a one-line error naming
//! the variable before anything is created, never a silent default or a failure a minute later.
//!
//! The readers below are what the rest of the code calls; after a successful check they cannot
//! fail, so call sites may fall back to the default on `Err` without hiding anything.

use std::net::{IpAddr, ToSocketAddrs, UdpSocket};
use std::path::PathBuf;

pub const ADVERTISE_HOST: &str = "ENVCTL_ADVERTISE_HOST";
pub const PORT_RANGE: &str = "ENVCTL_PORT_RANGE";
pub const LOCK_DIR: &str = "ENVCTL_LOCK_DIR";
pub const CACHE_DIR: &str = "ENVCTL_CACHE_DIR";
pub const TEMPLATE_PATH: &str = "ENVCTL_TEMPLATE_PATH";
pub const RUNTIME_DIR: &str = "XDG_RUNTIME_DIR";
pub const DOCKER_HOST: &str = "DOCKER_HOST";
pub const ENGINE: &str = "ENVCTL_ENGINE";
/// The node ports envctl allocates from on a Kubernetes cluster (`kubernetes::node_ports`).
pub const NODE_PORT_RANGE: &str = "ENVCTL_NODE_PORT_RANGE";
/// The registry images built on this machine are pushed to for a cluster (`project::registry`).
pub const REGISTRY: &str = "ENVCTL_REGISTRY";

/// A variable whose value cannot be used: `NAME=value: why`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name}={value:?}: {reason}")]
pub struct SettingError {
    pub name: &'static str,
    pub value: String,
    pub reason: String,
}

fn error(name: &'static str, value: &str, reason: impl Into<String>) -> SettingError {
    SettingError {
        name,
        value: value.to_string(),
        reason: reason.into(),
    }
}

/// The value of `name`: `None` when unset; an error when it is not UTF-8 or is empty (an
/// empty value is nearly always a script's unset shell variable, not a choice).
fn non_empty(name: &'static str, default: &str) -> Result<Option<String>, SettingError> {
    match std::env::var(name) {
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(raw)) => {
            Err(error(name, &raw.to_string_lossy(), "is not valid UTF-8"))
        }
        Ok(value) if value.trim().is_empty() => Err(error(
            name,
            &value,
            format!("is set but empty; unset it for the default ({default}) or give a value"),
        )),
        Ok(value) => Ok(Some(value)),
    }
}

/// An absolute directory path from `name`. Relative paths are refused: they would name a
/// different directory from every working directory (two `up`s would not see each other's
/// locks, a cache would be rebuilt per project).
fn absolute_dir(name: &'static str, default: &str) -> Result<Option<PathBuf>, SettingError> {
    let Some(value) = non_empty(name, default)? else {
        return Ok(None);
    };
    let path = PathBuf::from(&value);
    if !path.is_absolute() {
        return Err(error(name, &value, "must be an absolute path"));
    }
    if path.exists() && !path.is_dir() {
        return Err(error(name, &value, "exists and is not a directory"));
    }
    Ok(Some(path))
}

/// `ENVCTL_LOCK_DIR`: where instance lock files live.
pub fn lock_dir() -> Result<Option<PathBuf>, SettingError> {
    absolute_dir(LOCK_DIR, "$XDG_RUNTIME_DIR/envctl-locks or the temp dir")
}

/// `XDG_RUNTIME_DIR`: the base of the lock directory when `ENVCTL_LOCK_DIR` is unset.
pub fn runtime_dir() -> Result<Option<PathBuf>, SettingError> {
    absolute_dir(RUNTIME_DIR, "the temp dir")
}

/// `ENVCTL_CACHE_DIR`: where template libraries are cached.
pub fn cache_dir() -> Result<Option<PathBuf>, SettingError> {
    absolute_dir(CACHE_DIR, "the user's cache directory")
}

/// `ENVCTL_TEMPLATE_PATH`: extra template directories, `:`-separated. Unlike the others an
/// empty value is allowed: it is an empty list, as an empty `PATH` is. An entry that exists
/// and is not a directory is refused (a file named there by mistake would never be searched).
pub fn template_path() -> Result<Vec<PathBuf>, SettingError> {
    let Some(raw) = std::env::var_os(TEMPLATE_PATH) else {
        return Ok(Vec::new());
    };
    let Some(text) = raw.to_str() else {
        return Err(error(
            TEMPLATE_PATH,
            &raw.to_string_lossy(),
            "is not valid UTF-8",
        ));
    };
    let dirs: Vec<PathBuf> = std::env::split_paths(text)
        .filter(|p| !p.as_os_str().is_empty())
        .collect();
    if let Some(file) = dirs.iter().find(|p| p.exists() && !p.is_dir()) {
        return Err(error(
            TEMPLATE_PATH,
            text,
            format!("{} is not a directory", file.display()),
        ));
    }
    Ok(dirs)
}

/// `ENVCTL_PORT_RANGE`: the host ports envctl allocates from, `FIRST-LAST`.
pub fn port_range() -> Result<Option<crate::model::PortRange>, SettingError> {
    let Some(text) = non_empty(PORT_RANGE, "20000-39999")? else {
        return Ok(None);
    };
    crate::model::PortRange::parse(&text)
        .map(Some)
        .map_err(|reason| error(PORT_RANGE, &text, reason.to_string()))
}

/// `DOCKER_HOST`: the engine's address. Only its form is checked here; whether something
/// answers there is the engine connection's business.
pub fn docker_host() -> Result<Option<String>, SettingError> {
    let Some(value) = non_empty(DOCKER_HOST, "unix:///var/run/docker.sock")? else {
        return Ok(None);
    };
    const SCHEMES: &[&str] = &["unix://", "tcp://", "http://", "https://", "ssh://"];
    match SCHEMES.iter().find(|s| value.starts_with(**s)) {
        Some(scheme) if value.len() > scheme.len() => Ok(Some(value)),
        _ => Err(error(
            DOCKER_HOST,
            &value,
            "expected unix:///path/docker.sock, tcp://HOST:PORT or ssh://USER@HOST",
        )),
    }
}

/// Checks every variable above; the first bad one is the error. Run before any command acts.
pub fn check_environment() -> Result<(), SettingError> {
    lock_dir()?;
    runtime_dir()?;
    cache_dir()?;
    template_path()?;
    port_range()?;
    docker_host()?;
    non_empty(ENGINE, "DOCKER_HOST, else the local socket")?;
    if let Some(text) = non_empty(NODE_PORT_RANGE, "30000-32767")? {
        crate::model::PortRange::parse(&text)
            .map_err(|reason| error(NODE_PORT_RANGE, &text, reason.to_string()))?;
    }
    non_empty(REGISTRY, "`registry:` in envctl.yaml, else none")?;
    Ok(())
}

/// Why an advertise host (`--advertise-host` / `ENVCTL_ADVERTISE_HOST`) cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdvertiseHostError {
    #[error(
        "empty advertise host (from --advertise-host or {}); \
         unset it for the default (this host's primary IPv4) or give an address",
        ADVERTISE_HOST
    )]
    Empty,
    #[error(
        "`{value}` (from --advertise-host or {}) is neither an IP address nor a host name",
        ADVERTISE_HOST
    )]
    NotAHost { value: String },
    #[error("advertise host `{host}` does not resolve: {reason}")]
    DoesNotResolve { host: String, reason: String },
    #[error(
        "advertise host `{host}` is {ip}, which means \"every address\" and cannot be dialled; \
         give one address of this machine"
    )]
    EveryAddress { host: String, ip: IpAddr },
    /// `engine` is empty or ` nor of the engine host HOST`; `default` is the detected address.
    #[error(
        "advertise host `{host}` ({seen}) is not an address of this machine{engine}: providers would \
         register it and nobody could reach them; drop --advertise-host and {} for the default ({default})",
        ADVERTISE_HOST
    )]
    NotThisMachine {
        host: String,
        seen: String,
        engine: String,
        default: String,
    },
}

/// Clap value parser for `--advertise-host` / `ENVCTL_ADVERTISE_HOST`: not empty, and an IP
/// address or a host name (letters, digits, `-`, `.`). Whether it is this machine's is checked
/// by `check_advertise_host` where it matters (`up`).
pub fn parse_advertise_host(text: &str) -> Result<String, AdvertiseHostError> {
    let value = text.trim();
    if value.is_empty() {
        return Err(AdvertiseHostError::Empty);
    }
    let as_name = value
        .split('.')
        .all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    if value.parse::<IpAddr>().is_err() && !as_name {
        return Err(AdvertiseHostError::NotAHost {
            value: value.to_string(),
        });
    }
    Ok(value.to_string())
}

/// Refuses an advertise address that is neither an address of this machine nor of the engine
/// host: providers would register it and nobody could reach them there. A host name passes
/// when one of its addresses does.
pub fn check_advertise_host(
    host: &str,
    engine_host: Option<&str>,
) -> Result<(), AdvertiseHostError> {
    let addrs: Vec<IpAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![ip],
        Err(_) => (host, 0)
            .to_socket_addrs()
            .map_err(|e| AdvertiseHostError::DoesNotResolve {
                host: host.to_string(),
                reason: e.to_string(),
            })?
            .map(|a| a.ip())
            .collect(),
    };
    if let Some(ip) = addrs.iter().find(|ip| ip.is_unspecified()) {
        return Err(AdvertiseHostError::EveryAddress {
            host: host.to_string(),
            ip: *ip,
        });
    }
    // Binding a socket to an address succeeds exactly when the address is one of this
    // machine's (no packet is sent); the engine host is accepted when the engine is remote.
    let local = |ip: &IpAddr| UdpSocket::bind((*ip, 0)).is_ok();
    let engine = engine_host;
    let of_engine = |ip: &IpAddr| {
        engine.is_some_and(|e| {
            e == host
                || (e, 0)
                    .to_socket_addrs()
                    .is_ok_and(|mut a| a.any(|a| a.ip() == *ip))
        })
    };
    if addrs.iter().any(|ip| local(ip) || of_engine(ip)) {
        return Ok(());
    }
    let seen: Vec<String> = addrs.iter().map(IpAddr::to_string).collect();
    Err(AdvertiseHostError::NotThisMachine {
        host: host.to_string(),
        seen: seen.join(", "),
        engine: engine
            .map(|e| format!(" nor of the engine host {e}"))
            .unwrap_or_default(),
        default: crate::advertise::detect().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advertise_host_syntax() {
        assert!(parse_advertise_host("")
            .unwrap_err()
            .to_string()
            .contains(ADVERTISE_HOST));
        assert!(parse_advertise_host("  ").is_err());
        assert!(parse_advertise_host("a b").is_err());
        assert!(parse_advertise_host("10.0.0.5:80").is_err());
        assert_eq!(parse_advertise_host("10.0.0.5").unwrap(), "10.0.0.5");
        assert_eq!(parse_advertise_host("::1").unwrap(), "::1");
        assert_eq!(parse_advertise_host("build-7.lan").unwrap(), "build-7.lan");
    }

    #[test]
    fn advertise_host_must_be_this_machine() {
        assert_eq!(check_advertise_host("127.0.0.1", None), Ok(()));
        let detected = crate::advertise::detect().to_string();
        assert_eq!(check_advertise_host(&detected, None), Ok(()));
        // TEST-NET-2 (RFC 5737): never assigned to a machine.
        let err = check_advertise_host("198.51.100.7", None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("not an address of this machine"), "{err}");
        // The remote engine's host is as good: its published ports are there.
        assert_eq!(
            check_advertise_host("198.51.100.7", Some("198.51.100.7")),
            Ok(())
        );
        assert!(check_advertise_host("0.0.0.0", None)
            .unwrap_err()
            .to_string()
            .contains("every address"));
    }
}
