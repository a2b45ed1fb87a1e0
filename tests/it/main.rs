//! envctl's integration tests, one test binary (one link, one copy of the support code) with a
//! module per area. `*_cli` modules run the envctl binary without touching the engine (or only
//! to prove nothing was created); `*_docker` modules and `docker_engine` need the real Docker
//! engine and the local `envctl/*` images (scripts/build-images.sh). See README.md here for how
//! to add a module and the rules every test keeps (unique names, drop guards, no fixed ports).
//!
//! Tests of every module run concurrently in this one process: nothing here may change the
//! process's environment or working directory, or assume the engine holds nothing but its own.

mod support;

mod behaviour_docker;
mod definition_limits_cli;
mod definition_limits_docker;
mod definitions_cli;
mod docker_engine;
mod dubbo_docker;
mod dubbo_java_docker;
mod dubbo_library_docker;
mod dubbo_registrations_docker;
mod dubbo_tags_docker;
mod dubbo_up;
mod dubbo_watch_docker;
mod engine_errors_cli;
mod identity_docker;
mod import_cli;
mod import_docker;
mod kubernetes_backend_cli;
mod kubernetes_cluster;
mod kubernetes_registry_docker;
mod kubernetes_render_cli;
mod kubernetes_scale;
mod lifecycle_docker;

mod output_cli;
mod overlay_docker;
mod overlay_routing_docker;
mod papercuts_cli;
mod project_a_docker;
mod reconcile_docker;
mod remote_engine_docker;
mod security_cli;
mod security_docker;
mod seed_docker;
mod snapshot_docker;
mod spec_docker;
mod template_libraries;
mod ui_api_docker;
mod ui_browser_docker;
