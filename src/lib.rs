//! envctl: one-click test environments on Docker.
//!
//! Data flows one way:
//! file --render--> text --parse--> Definition --resolve--> Environment (model)
//! Environment + Observed (engine) --plan--> Plan --apply(engine)--> events --> output

pub mod advertise;
pub mod apply;
pub mod backend;
pub mod cli;
pub mod definition;
pub mod dubbo;
pub mod engine;
pub mod errors;
pub mod import;
pub mod lifetime;
pub mod local;
pub mod lock;
pub mod model;
pub mod ops;
pub mod output;
pub mod plan;
pub mod probe;
pub mod settings;
pub mod zookeeper;
