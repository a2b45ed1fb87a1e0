//! Docker engine through bollard. The only module that imports bollard: every bollard type is
//! converted to our own engine types at this boundary. `connection` connects and words engine
//! errors, `convert` maps types both ways, `backend` implements `Engine` with them, `transfer`
//! copies an image from this machine's engine to another one, `push` tags and pushes one
//! to a registry.

mod backend;
mod connection;
mod convert;
mod exec;
mod push;
#[cfg(test)]
mod tests;
mod transfer;

pub use connection::{DockerEngine, MIN_API_VERSION};
