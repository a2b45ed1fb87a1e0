use bollard::container::LogOutput;
use bollard::errors::Error as BollardError;

use crate::engine::{ContainerSpec, PublishedPort};

use super::connection::*;
use super::convert::*;

#[test]
fn references_always_carry_a_tag() {
    assert_eq!(split_reference("redis"), ("redis".into(), "latest".into()));
    assert_eq!(split_reference("redis:7"), ("redis".into(), "7".into()));
    assert_eq!(
        split_reference("localhost:5000/shop/api:1.2"),
        ("localhost:5000/shop/api".into(), "1.2".into())
    );
    assert_eq!(
        split_reference("localhost:5000/shop/api"),
        ("localhost:5000/shop/api".into(), "latest".into())
    );
    assert_eq!(
        split_reference("busybox@sha256:abc"),
        ("busybox@sha256:abc".into(), String::new())
    );
}

#[test]
fn exit_codes_are_read_from_the_status_text() {
    assert_eq!(exit_code_from_status("Exited (137) 3 seconds ago"), 137);
    assert_eq!(exit_code_from_status("Exited (0) About a minute ago"), 0);
    assert_eq!(exit_code_from_status("Created"), 0);
}

#[test]
fn api_versions_compare_numerically() {
    assert!(parse_api_version("1.41").unwrap() >= MIN_API_VERSION);
    assert!(parse_api_version("1.9").unwrap() < MIN_API_VERSION);
    assert!(parse_api_version("1.100").unwrap() > MIN_API_VERSION);
    assert_eq!(parse_api_version("garbage"), None);
}

#[test]
fn log_chunks_become_whole_lines() {
    let mut splitter = LineSplitter::default();
    let out = |s: &str| LogOutput::StdOut {
        message: s.as_bytes().to_vec().into(),
    };
    assert!(splitter.push(out("hel")).is_empty());
    assert_eq!(splitter.push(out("lo\nwor")), vec!["hello"]);
    assert_eq!(
        splitter.push(LogOutput::StdErr {
            message: "oops\r\n".as_bytes().to_vec().into()
        }),
        vec!["oops"]
    );
    assert_eq!(splitter.finish(), vec!["wor"]);
}

#[test]
fn host_access_reaches_the_create_request() {
    let spec = ContainerSpec {
        name: "x-a".into(),
        image: "envctl/busybox:1.35".into(),
        env: vec![],
        labels: Default::default(),
        command: None,
        entrypoint: None,
        ports: vec![PublishedPort {
            container: 80,
            host: 8080,
            protocol: crate::model::Protocol::Tcp,
        }],
        publish_address: String::new(),
        network: "envctl-x".into(),
        aliases: vec!["a".into()],
        links: vec![],
        mounts: vec![],
        memory_bytes: None,
        nano_cpus: None,
        restart: "no".into(),
        extra_hosts: vec![],
        host_access: crate::model::HostAccess::default(),
    };
    let plain = create_body(&spec).host_config.unwrap();
    assert_eq!((plain.privileged, plain.pid_mode), (None, None));
    let all = ContainerSpec {
        host_access: crate::model::HostAccess {
            privileged: true,
            network: true,
            pid: true,
        },
        ..spec
    };
    let body = create_body(&all);
    let host = body.host_config.unwrap();
    assert_eq!(host.privileged, Some(true));
    assert_eq!(host.pid_mode.as_deref(), Some("host"));
    assert_eq!(host.network_mode.as_deref(), Some("host"));
    assert!(host.port_bindings.is_none());
    assert!(body.networking_config.is_none());
}

#[test]
fn missing_engine_reasons_say_what_to_do() {
    let reason = unreachable_reason(&BollardError::SocketNotFoundError(
        "/var/run/docker.sock".into(),
    ));
    assert!(reason.contains("systemctl start docker"), "{reason}");
    let io = |kind: std::io::ErrorKind, text: &str| BollardError::IOError {
        err: std::io::Error::new(kind, text.to_string()),
    };
    let denied = unreachable_reason(&io(
        std::io::ErrorKind::PermissionDenied,
        "Permission denied (os error 13)",
    ));
    assert!(denied.contains("docker group"), "{denied}");
    let refused = unreachable_reason(&io(
        std::io::ErrorKind::ConnectionRefused,
        "Connection refused (os error 111)",
    ));
    assert!(refused.contains("DOCKER_HOST"), "{refused}");
}
