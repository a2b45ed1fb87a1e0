//! The `io.envctl.*` labels: the contract that marks what envctl owns.
//! envctl never modifies or removes a resource without `io.envctl.instance`.

pub const INSTANCE: &str = "io.envctl.instance";
pub const ENV: &str = "io.envctl.env";
pub const FEATURE: &str = "io.envctl.feature";
pub const SERVICE: &str = "io.envctl.service";
pub const SPEC_HASH: &str = "io.envctl.spec-hash";
pub const CREATED: &str = "io.envctl.created";
pub const EXPIRES_AT: &str = "io.envctl.expires-at";
/// Host ports allocated to a service, `container/proto=host` comma-separated; read back so
/// allocations stay stable across re-ups.
pub const PORTS: &str = "io.envctl.ports";
/// The template a service was made from.
pub const TEMPLATE: &str = "io.envctl.template";
