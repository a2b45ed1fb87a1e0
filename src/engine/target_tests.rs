use std::path::{Path, PathBuf};

use super::*;

fn write_context(config: &Path, name: &str, host: &str, skip_tls: bool) {
    let meta = context_meta_path(config, name);
    std::fs::create_dir_all(meta.parent().unwrap()).unwrap();
    let json = serde_json::json!({
        "Name": name,
        "Metadata": {},
        "Endpoints": { "docker": { "Host": host, "SkipTLSVerify": skip_tls } }
    });
    std::fs::write(meta, json.to_string()).unwrap();
}

fn write_certs(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    for file in ["ca.pem", "cert.pem", "key.pem"] {
        std::fs::write(dir.join(file), "pem").unwrap();
    }
}

fn with_config(config: &Path) -> Selection {
    Selection {
        docker_config: Some(config.to_path_buf()),
        ..Selection::default()
    }
}

fn tcp(host: &str, port: u16) -> EngineUrl {
    EngineUrl::Tcp {
        host: host.into(),
        port,
        tls: None,
    }
}

#[test]
fn nothing_set_is_the_local_socket() {
    let dir = tempfile::tempdir().unwrap();
    let target = resolve(&with_config(dir.path())).unwrap();
    assert_eq!(target, EngineTarget::local());
    assert_eq!(target.remote_host(), None);
    assert_eq!(
        target.to_string(),
        "unix:///var/run/docker.sock (from default)"
    );
}

#[test]
fn precedence_flag_envctl_project_docker_host_context_current() {
    let dir = tempfile::tempdir().unwrap();
    write_context(dir.path(), "ctx", "tcp://ctx-host:2375", false);
    write_context(dir.path(), "cur", "tcp://cur-host:2375", false);
    std::fs::write(
        dir.path().join("config.json"),
        r#"{"currentContext":"cur"}"#,
    )
    .unwrap();
    let mut sel = Selection {
        flag: Some("tcp://flag-host:1".into()),
        envctl_engine: Some("tcp://envctl-host:2".into()),
        project: Some((PathBuf::from("envctl.yaml"), "tcp://project-host:3".into())),
        docker_host: Some("tcp://docker-host:4".into()),
        docker_context: Some("ctx".into()),
        ..with_config(dir.path())
    };
    let mut seen = Vec::new();
    loop {
        let target = resolve(&sel).unwrap();
        seen.push((
            target.remote_host().unwrap_or("").to_string(),
            target.source.to_string(),
        ));
        if sel.flag.take().is_some()
            || sel.envctl_engine.take().is_some()
            || sel.project.take().is_some()
            || sel.docker_host.take().is_some()
            || sel.docker_context.take().is_some()
        {
            continue;
        }
        break;
    }
    let expected = [
        ("flag-host", "--engine"),
        ("envctl-host", "ENVCTL_ENGINE"),
        ("project-host", "engine: in envctl.yaml"),
        ("docker-host", "DOCKER_HOST"),
        ("ctx-host", "DOCKER_CONTEXT=ctx"),
        ("cur-host", "docker context cur"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(h, s)| (h.to_string(), s.to_string()))
        .collect();
    assert_eq!(seen, expected);
}

#[test]
fn urls_take_their_default_ports_and_refuse_nonsense() {
    let url = |v: &str| parse_url(v, &TargetSource::Flag, None);
    assert_eq!(url("tcp://10.0.0.5").unwrap(), tcp("10.0.0.5", 2375));
    assert_eq!(url("tcp://server:12375/").unwrap(), tcp("server", 12375));
    assert_eq!(url("tcp://[fd00::5]:2375").unwrap(), tcp("fd00::5", 2375));
    assert_eq!(
        url("unix:///run/x.sock").unwrap(),
        EngineUrl::Unix("/run/x.sock".into())
    );
    assert_eq!(
        url("ssh://me@server").unwrap(),
        EngineUrl::Ssh {
            authority: "me@server".into()
        }
    );
    for bad in [
        "unix://run/x.sock",
        "ftp://x",
        "tcp://",
        "tcp://h:2375/v1",
        "https://h",
    ] {
        let err = url(bad).unwrap_err().to_string();
        assert!(err.starts_with("--engine: `"), "{bad}: {err}");
    }
}

#[test]
fn a_value_without_scheme_is_a_context_name() {
    let dir = tempfile::tempdir().unwrap();
    write_context(dir.path(), "team server", "tcp://10.1.2.3:2375", false);
    let sel = Selection {
        envctl_engine: Some("team server".into()),
        ..with_config(dir.path())
    };
    let target = resolve(&sel).unwrap();
    assert_eq!(target.url, tcp("10.1.2.3", 2375));
    let missing = Selection {
        envctl_engine: Some("nope".into()),
        ..with_config(dir.path())
    };
    let err = resolve(&missing).unwrap_err().to_string();
    assert!(
        err.contains("ENVCTL_ENGINE: docker context `nope` does not exist"),
        "{err}"
    );
}

#[test]
fn the_default_context_is_docker_host_or_the_socket() {
    let dir = tempfile::tempdir().unwrap();
    let sel = Selection {
        flag: Some("default".into()),
        ..with_config(dir.path())
    };
    assert_eq!(resolve(&sel).unwrap().url, EngineTarget::local().url);
    std::fs::write(
        dir.path().join("config.json"),
        r#"{"currentContext":"default"}"#,
    )
    .unwrap();
    assert_eq!(
        resolve(&with_config(dir.path())).unwrap(),
        EngineTarget::local()
    );
}

#[test]
fn tls_from_docker_cert_path_and_from_a_context() {
    let dir = tempfile::tempdir().unwrap();
    let certs = dir.path().join("certs");
    let sel = Selection {
        docker_host: Some("tcp://secure:2376".into()),
        tls_verify: true,
        cert_path: Some(certs.clone()),
        ..with_config(dir.path())
    };
    let err = resolve(&sel).unwrap_err().to_string();
    assert!(
        err.contains("DOCKER_TLS_VERIFY is set but") && err.contains("ca.pem"),
        "{err}"
    );
    write_certs(&certs);
    let target = resolve(&sel).unwrap();
    assert_eq!(
        target.url,
        EngineUrl::Tcp {
            host: "secure".into(),
            port: 2376,
            tls: Some(TlsFiles { dir: certs })
        }
    );
    assert_eq!(target.url.to_string(), "tcp://secure:2376 (TLS)");

    write_context(dir.path(), "tls", "tcp://ctx-secure:2376", false);
    let tls_dir = dir
        .path()
        .join("contexts/tls")
        .join(context_digest("tls"))
        .join("docker");
    write_certs(&tls_dir);
    let sel = Selection {
        docker_context: Some("tls".into()),
        ..with_config(dir.path())
    };
    assert!(matches!(
        resolve(&sel).unwrap().url,
        EngineUrl::Tcp { tls: Some(TlsFiles { ref dir }), .. } if *dir == tls_dir
    ));
}

#[test]
fn broken_docker_files_are_named() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.json"), "{not json").unwrap();
    let err = resolve(&with_config(dir.path())).unwrap_err().to_string();
    assert!(err.contains("config.json"), "{err}");
    write_context(dir.path(), "insecure", "tcp://h:2376", true);
    let sel = Selection {
        docker_context: Some("insecure".into()),
        ..with_config(dir.path())
    };
    let err = resolve(&sel).unwrap_err().to_string();
    assert!(err.contains("SkipTLSVerify"), "{err}");
}

#[test]
fn kubernetes_names_a_cluster_from_envctl_settings_only() {
    let dir = tempfile::tempdir().unwrap();
    let chosen = |sel: Selection| resolve(&sel).unwrap();
    let flag = chosen(Selection {
        flag: Some("kubernetes".into()),
        ..with_config(dir.path())
    });
    assert_eq!(flag.url, EngineUrl::Kubernetes { context: None });
    assert_eq!(flag.kubernetes(), Some(None));
    assert_eq!(flag.url.to_string(), "kubernetes");

    let project = chosen(Selection {
        project: Some((
            PathBuf::from("/p/envctl.yaml"),
            "kubernetes:kind-envctl".into(),
        )),
        docker_host: Some("tcp://server:2375".into()),
        ..with_config(dir.path())
    });
    assert_eq!(project.kubernetes(), Some(Some("kind-envctl")));
    assert_eq!(
        project.to_string(),
        "kubernetes:kind-envctl (from engine: in /p/envctl.yaml)"
    );

    // A docker context whose name starts with the word is still a docker context.
    write_context(dir.path(), "kubernetes-lab", "tcp://lab:2375", false);
    let context = chosen(Selection {
        envctl_engine: Some("kubernetes-lab".into()),
        ..with_config(dir.path())
    });
    assert_eq!(context.url, tcp("lab", 2375));
    assert_eq!(context.kubernetes(), None);

    let empty = resolve(&Selection {
        flag: Some("kubernetes:".into()),
        ..with_config(dir.path())
    })
    .unwrap_err();
    assert!(
        empty.to_string().contains("no kubeconfig context"),
        "{empty}"
    );
}
