//! The read-only JSON endpoints, and what every endpoint shares: the error shape, naming an
//! instance from the path, loading its definition.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use crate::definition::{self, LoadOptions};
use crate::model::{Environment, InstanceId};
use crate::ops::inspect::InspectError;

use super::{snapshot, Shared};

/// Every failure: a status and a one-line message, as `{"error": "..."}`.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl std::fmt::Display) -> Self {
        Self {
            status,
            message: message.to_string(),
        }
    }

    /// An engine (or other server-side) failure.
    pub fn internal(err: impl std::fmt::Display) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, err)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(serde_json::json!({ "error": self.message })),
        )
            .into_response()
    }
}

impl From<InspectError> for ApiError {
    fn from(err: InspectError) -> Self {
        let status = match err {
            InspectError::NotFound { .. } => StatusCode::NOT_FOUND,
            InspectError::Ownership(_) => StatusCode::CONFLICT,
            InspectError::Engine(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Self::new(status, err)
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// The instance a path names (`shop` or `shop--pay-v2`), validated as the CLI validates it.
pub fn instance_id(text: &str) -> ApiResult<InstanceId> {
    let (env, feature) = match text.split_once(crate::model::FEATURE_SEPARATOR) {
        Some((env, feature)) => (env, Some(feature)),
        None => (text, None),
    };
    InstanceId::new(env, feature)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, format!("`{text}`: {e}")))
}

/// The definition of `id` from ./environments, as `envctl up` in this directory would load it.
pub async fn load_definition(state: &Shared, id: &InstanceId) -> ApiResult<Environment> {
    let opts = LoadOptions {
        feature: id.feature().map(str::to_string),
        set: state.config.set.clone(),
        advertise_host: state.backend.host_address().advertise.clone(),
        dubbo_tag: None,
    };
    let env_name = id.env().to_string();
    let env = tokio::task::spawn_blocking(move || definition::load(&env_name, &opts))
        .await
        .map_err(ApiError::internal)?
        .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e))?;
    if env.instance != *id {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!(
                "environments/{}.yaml names the instance {}, not {id}",
                id.env(),
                env.instance
            ),
        ));
    }
    Ok(env)
}

pub fn plan_inputs() -> ApiResult<crate::plan::PlanInputs<'static>> {
    crate::plan::PlanInputs::from_host().map_err(ApiError::internal)
}

/// `GET /api/environments`: the definitions in ./environments, which the page offers to `up`.
pub async fn environments() -> Json<Vec<String>> {
    Json(
        definition::list_environments()
            .iter()
            .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
            .collect(),
    )
}

/// `GET /api/instances`: every instance on the engine.
pub async fn instances(State(state): State<Shared>) -> ApiResult<Json<Vec<snapshot::InstanceRow>>> {
    Ok(Json(
        snapshot::instances(state.backend.as_ref())
            .await
            .map_err(ApiError::internal)?,
    ))
}

/// `GET /api/instances/{instance}`: its services, states, ports and dependencies.
pub async fn instance(
    State(state): State<Shared>,
    Path(instance): Path<String>,
) -> ApiResult<Json<snapshot::InstanceView>> {
    Ok(Json(instance_view(&state, &instance).await?))
}

/// The view of one instance, with its definition when it loads.
pub async fn instance_view(state: &Shared, instance: &str) -> ApiResult<snapshot::InstanceView> {
    let id = instance_id(instance)?;
    let env = load_definition(state, &id).await.ok();
    let state = state.clone();
    off_runtime(move || async move {
        Ok(snapshot::instance(state.backend.as_ref(), &id, env.as_ref(), &plan_inputs()?).await?)
    })
    .await
}

/// Runs a use case whose future cannot move between threads (the planning inputs borrow
/// host functions) on a blocking thread that drives it on this runtime.
pub async fn off_runtime<T, F, Fut>(work: F) -> ApiResult<T>
where
    T: Send + 'static,
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ApiResult<T>>,
{
    let runtime = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || runtime.block_on(work()))
        .await
        .map_err(ApiError::internal)?
}

#[derive(Debug, Serialize)]
pub struct PlanView {
    instance: String,
    converged: bool,
    actions: Vec<crate::plan::ActionSummary>,
}

/// `GET /api/instances/{instance}/plan`: what `up` would change, as `envctl plan` says it.
pub async fn plan(
    State(state): State<Shared>,
    Path(instance): Path<String>,
) -> ApiResult<Json<PlanView>> {
    let id = instance_id(&instance)?;
    let env = load_definition(&state, &id).await?;
    let plan = off_runtime(move || async move {
        state
            .backend
            .plan(&env, &plan_inputs()?)
            .await
            .map_err(|e| ApiError::new(StatusCode::CONFLICT, e))
    })
    .await?;
    Ok(Json(PlanView {
        instance: id.to_string(),
        converged: plan.is_empty(),
        actions: plan.summaries(),
    }))
}

/// `GET /api/instances/{instance}/endpoints`: Dubbo providers and published ports, as
/// `envctl endpoints --output json` reports them.
pub async fn endpoints(
    State(state): State<Shared>,
    Path(instance): Path<String>,
) -> ApiResult<Json<crate::dubbo::endpoints::Endpoints>> {
    let id = instance_id(&instance)?;
    let backend = state.backend.as_ref();
    let workloads = crate::ops::inspect::existing_instance(backend, &id).await?;
    let env = load_definition(&state, &id).await.ok();
    let choice = crate::ops::endpoints::RegistryChoice {
        base: crate::ops::overlays::base_workloads(backend, &id, &workloads)
            .await
            .map_err(crate::ops::inspect::InspectError::from)?,
        ..Default::default()
    };
    Ok(Json(
        crate::ops::endpoints::collect(
            &id,
            workloads.into_values().collect(),
            env.as_ref(),
            backend.host_address(),
            &choice,
        )
        .await,
    ))
}

pub async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "no such API endpoint; see docs/ui.md",
    )
}
