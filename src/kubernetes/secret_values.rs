//! Secret values read on this machine for the instance's Secret, exactly as `up` on Docker
//! reads them (`plan::resolve_secret_from_host`: the host's environment variable, or the
//! file with one trailing newline dropped), keyed as the Secret keys them.

use std::collections::BTreeMap;

use super::manifests::secret_key;
use crate::model::{EnvValue, Environment};

/// Secrets that have no value on this machine, one line each naming service and variable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot read the secrets of `{instance}` on this machine:\n  {}", .problems.join("\n  "))]
pub struct UnresolvedSecrets {
    pub instance: String,
    pub problems: Vec<String>,
}

/// Every `from_env`/`from_file` value of `env`, keyed `<service>.<VAR>`.
pub fn resolve_from_host(env: &Environment) -> Result<BTreeMap<String, String>, UnresolvedSecrets> {
    resolve_with(env, &|value| {
        crate::plan::resolve_secret_from_host(value).map_err(|e| e.to_string())
    })
}

/// `resolve_from_host` with the reader given (tests read from a map, never the process).
pub fn resolve_with(
    env: &Environment,
    read: &dyn Fn(&EnvValue) -> Result<String, String>,
) -> Result<BTreeMap<String, String>, UnresolvedSecrets> {
    let mut values = BTreeMap::new();
    let mut problems = Vec::new();
    for service in env.services.values() {
        for (var, value) in &service.env {
            if matches!(value, EnvValue::Plain(_)) {
                continue;
            }
            match read(value) {
                Ok(text) => {
                    values.insert(secret_key(service.name.as_str(), var), text);
                }
                Err(why) => {
                    problems.push(format!("service `{}`: env `{var}`: {why}", service.name))
                }
            }
        }
    }
    if problems.is_empty() {
        Ok(values)
    } else {
        Err(UnresolvedSecrets {
            instance: env.instance.to_string(),
            problems,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::PathBuf;

    use super::*;
    use crate::model::{InstanceId, Service, ServiceName};

    fn env() -> Environment {
        let mut db = Service::from_image(ServiceName::new("db").unwrap(), "img:1");
        db.env.insert("PLAIN".into(), EnvValue::Plain("x".into()));
        db.env
            .insert("PASSWORD".into(), EnvValue::FromEnv("DB_PW".into()));
        db.env
            .insert("KEY".into(), EnvValue::FromFile(PathBuf::from("/run/key")));
        let mut app = Service::from_image(ServiceName::new("app").unwrap(), "img:1");
        app.env
            .insert("TOKEN".into(), EnvValue::FromEnv("APP_TOKEN".into()));
        Environment {
            env: "shop".into(),
            feature: None,
            instance: InstanceId::new("shop", None).unwrap(),
            description: None,
            ttl: None,
            source: PathBuf::from("/defs/shop.yaml"),
            services: [db, app].into_iter().map(|s| (s.name.clone(), s)).collect(),
            local: BTreeMap::new(),
            overlay: None,
            forkable: None,
        }
    }

    #[test]
    fn values_are_keyed_as_the_secret_keys_them_and_every_missing_one_is_named() {
        let host = |value: &EnvValue| match value {
            EnvValue::FromEnv(name) if name == "DB_PW" => Ok("pw".to_string()),
            EnvValue::FromFile(path) => Ok(format!("file {}", path.display())),
            _ => Err("host environment variable APP_TOKEN is not set".to_string()),
        };
        let err = resolve_with(&env(), &host).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot read the secrets of `shop` on this machine:\n  service `app`: env `TOKEN`: host environment variable APP_TOKEN is not set"
        );
        let all = |value: &EnvValue| host(value).or_else(|_| Ok("tok".to_string()));
        assert_eq!(
            resolve_with(&env(), &all).unwrap(),
            BTreeMap::from([
                ("app.TOKEN".to_string(), "tok".to_string()),
                ("db.KEY".to_string(), "file /run/key".to_string()),
                ("db.PASSWORD".to_string(), "pw".to_string()),
            ])
        );
    }

    #[test]
    fn from_host_reads_files_as_docker_does() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        std::fs::write(&path, "file-secret\n").unwrap();
        let mut e = env();
        // Only the file secret: the process environment is not ours to set in a test.
        for service in e.services.values_mut() {
            service.env.retain(|_, v| matches!(v, EnvValue::Plain(_)));
        }
        let db = e
            .services
            .values_mut()
            .find(|s| s.name.as_str() == "db")
            .unwrap();
        db.env.insert("KEY".into(), EnvValue::FromFile(path));
        assert_eq!(
            resolve_from_host(&e).unwrap(),
            BTreeMap::from([("db.KEY".to_string(), "file-secret".to_string())])
        );
    }
}
