//! envctl: one-click test environments on Docker.
//!
//! Data flows one way:
//! file --render--> text --parse--> Definition --resolve--> Environment (model)
//! cli --> ops --> backend::Backend (one instance; Docker: observe --plan--> Plan --apply--> engine)
//! --> result values and events --> output. See docs/architecture.md.

pub mod advertise;
pub mod apply;
pub mod backend;
pub mod cli;
pub mod definition;
pub mod dubbo;
pub mod engine;
pub mod errors;
pub mod import;
pub mod kubernetes;
pub mod lifetime;
pub mod local;
pub mod lock;
pub mod model;
pub mod ops;
pub mod output;
pub mod owner;
pub mod plan;
pub mod probe;
pub mod project;
pub mod settings;
pub mod snapshot;
pub mod state_dir;
pub mod ui;
pub mod zookeeper;
