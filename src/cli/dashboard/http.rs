//! The HTTP side (axum): the embedded page and plotting library, the JSON API, the
//! server-sent events that tell pages of changes, and the token check.

use super::importance;
use super::trials::{self, TrialQuery};
use super::views;
use super::watch::Watcher;
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;

/// The page and its assets, compiled into the binary so that it works offline.
const ASSETS: [(&str, &str, &[u8]); 6] = [
    ("index.html", "text/html; charset=utf-8", include_bytes!("assets/index.html")),
    ("app.js", "text/javascript; charset=utf-8", include_bytes!("assets/app.js")),
    ("charts.js", "text/javascript; charset=utf-8", include_bytes!("assets/charts.js")),
    ("app.css", "text/css; charset=utf-8", include_bytes!("assets/app.css")),
    ("uPlot.iife.min.js", "text/javascript; charset=utf-8", include_bytes!("assets/uplot/uPlot.iife.min.js")),
    ("uPlot.min.css", "text/css; charset=utf-8", include_bytes!("assets/uplot/uPlot.min.css")),
];

/// What handlers share.
#[derive(Clone)]
pub struct AppState {
    /// The watched runs.
    pub watcher: Arc<Watcher>,
    /// The scheduler whose workers the cluster view shows (local workers of `smac optimize`,
    /// `smac scheduler`), if any.
    pub cluster: Option<smac_runner::Client>,
    /// The token requests must carry (`?token=`), when the server is reachable from elsewhere.
    pub token: Option<String>,
    /// Parameter importances computed so far.
    pub importance: Arc<importance::Cache>,
}

/// The router of the dashboard.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/", get(|| asset_response("index.html")))
        .route("/api/runs", get(runs))
        .route("/api/events", get(events))
        .route("/api/cluster", get(cluster_view))
        .route("/api/convergence", get(convergence))
        .route("/api/runs/{id}/facets", get(facets))
        .route("/api/runs/{id}/trials", get(trial_page))
        .route("/api/runs/{id}/trials/{trial}", get(trial_detail))
        .route("/api/runs/{id}/importance", get(importance_view))
        .route("/api/runs/{id}/{view}", get(view))
        .layer(middleware::from_fn_with_state(state.clone(), check_token));
    // The static library files carry no run data and are served without the token.
    api.route("/assets/{file}", get(|Path(f): Path<String>| async move { asset_response(&f).await }))
        .with_state(state)
}

async fn asset_response(name: &str) -> Response {
    match ASSETS.iter().find(|(n, _, _)| *n == name) {
        Some((_, mime, body)) => {
            ([(header::CONTENT_TYPE, *mime), (header::CACHE_CONTROL, "no-cache")], *body).into_response()
        }
        None => (StatusCode::NOT_FOUND, "no such file").into_response(),
    }
}

/// Compares without an early exit, so that response times do not reveal the token.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn check_token(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let Some(want) = &st.token else { return next.run(req).await };
    let given = req
        .uri()
        .query()
        .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("token=")))
        .map(str::to_string);
    if given.as_deref().is_some_and(|g| same(g, want)) {
        next.run(req).await
    } else {
        (
            StatusCode::UNAUTHORIZED,
            "this dashboard needs its token: open the URL that `smac dashboard` printed\n",
        )
            .into_response()
    }
}

fn not_found(what: &str) -> Response {
    (StatusCode::NOT_FOUND, Json(serde_json::json!({ "error": what }))).into_response()
}

async fn runs(State(st): State<AppState>) -> Response {
    Json(st.watcher.snapshot()).into_response()
}

/// The scheduler's workers and trials now: `{"available": true, "view": …}`, or
/// `{"available": false, "why": …}` when this server watches run directories only.
async fn cluster_view(State(st): State<AppState>) -> Response {
    let Some(client) = &st.cluster else {
        let why = "no cluster: this dashboard reads run directories only; `smac optimize --dashboard` \
                   (with local workers) and `smac scheduler --dashboard` show their workers live";
        return Json(serde_json::json!({ "available": false, "why": why })).into_response();
    };
    if client.is_remote() {
        let why = "the scheduler runs in another process (--scheduler-file): its own \
                   `smac scheduler --dashboard` shows the cluster";
        return Json(serde_json::json!({ "available": false, "why": why })).into_response();
    }
    let view = tokio::time::timeout(std::time::Duration::from_secs(5), client.cluster_view()).await;
    match view {
        Ok(Some(v)) => Json(serde_json::json!({ "available": true, "view": v })).into_response(),
        Ok(None) => Json(serde_json::json!({ "available": false, "why": "the scheduler has shut down" }))
            .into_response(),
        Err(_) => {
            Json(serde_json::json!({ "available": false, "why": "the scheduler did not answer within 5 s" }))
                .into_response()
        }
    }
}

async fn events(State(st): State<AppState>) -> impl IntoResponse {
    let rx = st.watcher.subscribe();
    let stream = futures_util::stream::unfold((st, rx, true), |(st, mut rx, first)| async move {
        if !first && rx.changed().await.is_err() {
            return None;
        }
        rx.borrow_and_update();
        let text = serde_json::to_string(&st.watcher.snapshot()).ok()?;
        Some((Ok::<_, Infallible>(Event::default().event("update").data(text)), (st, rx, false)))
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

#[derive(Deserialize)]
struct RunsParam {
    runs: Option<String>,
}

async fn convergence(State(st): State<AppState>, Query(p): Query<RunsParam>) -> Response {
    let wanted: Option<Vec<usize>> = p
        .runs
        .filter(|r| !r.is_empty())
        .map(|r| r.split(',').filter_map(|x| x.trim().parse().ok()).collect());
    let loaded: Vec<(String, Arc<super::model::RunData>)> = st
        .watcher
        .loaded()
        .into_iter()
        .filter(|(i, _, _)| wanted.as_ref().is_none_or(|w| w.contains(i)))
        .map(|(_, l, d)| (l, d))
        .collect();
    let body = tokio::task::spawn_blocking(move || {
        let refs: Vec<(String, &super::model::RunData)> =
            loaded.iter().map(|(l, d)| (l.clone(), d.as_ref())).collect();
        views::convergence(&refs)
    })
    .await;
    match body {
        Ok(v) => Json(v).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

async fn facets(State(st): State<AppState>, Path(id): Path<usize>) -> Response {
    match st.watcher.run(id) {
        Some(d) => Json(trials::facets(&d)).into_response(),
        None => not_found("no such run, or not loaded"),
    }
}

async fn trial_page(
    State(st): State<AppState>,
    Path(id): Path<usize>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Some(d) = st.watcher.run(id) else { return not_found("no such run, or not loaded") };
    let query = match parse_query(&q) {
        Ok(q) => q,
        Err(e) => return (StatusCode::BAD_REQUEST, Json(serde_json::json!({ "error": e }))).into_response(),
    };
    match tokio::task::spawn_blocking(move || trials::query(&d, &query).map(|p| serde_json::to_value(p).ok()))
        .await
    {
        Ok(Ok(Some(v))) => Json(v).into_response(),
        Ok(Err(e)) => {
            (StatusCode::BAD_REQUEST, Json(serde_json::json!({ "error": e.to_string() }))).into_response()
        }
        _ => (StatusCode::INTERNAL_SERVER_ERROR, "query failed").into_response(),
    }
}

/// The query string as a [`TrialQuery`]; the token and empty fields are ignored.
fn parse_query(q: &HashMap<String, String>) -> Result<TrialQuery, String> {
    let get = |k: &str| q.get(k).map(|v| v.trim()).filter(|v| !v.is_empty()).map(str::to_string);
    let num = |k: &str| -> Result<Option<f64>, String> {
        get(k).map(|v| v.parse::<f64>().map_err(|_| format!("{k}: '{v}' is not a number"))).transpose()
    };
    let int = |k: &str| -> Result<Option<usize>, String> {
        get(k).map(|v| v.parse::<usize>().map_err(|_| format!("{k}: '{v}' is not a count"))).transpose()
    };
    Ok(TrialQuery {
        offset: int("offset")?.unwrap_or(0),
        limit: int("limit")?,
        sort: get("sort"),
        desc: get("desc").is_some_and(|d| d == "1" || d == "true"),
        status: get("status"),
        budget: num("budget")?,
        instance: get("instance"),
        params: get("params"),
    })
}

async fn trial_detail(State(st): State<AppState>, Path((id, trial)): Path<(usize, usize)>) -> Response {
    let Some(d) = st.watcher.run(id) else { return not_found("no such run, or not loaded") };
    match views::trial_detail(&d, trial) {
        Some(v) => Json(v).into_response(),
        None => not_found("no such trial"),
    }
}

async fn importance_view(State(st): State<AppState>, Path(id): Path<usize>) -> Response {
    let Some(d) = st.watcher.run(id) else { return not_found("no such run, or not loaded") };
    match st.importance.get(id, d).await {
        Ok(v) => Json(v.as_ref()).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e).into_response(),
    }
}

async fn view(State(st): State<AppState>, Path((id, view)): Path<(usize, String)>) -> Response {
    let Some(d) = st.watcher.run(id) else { return not_found("no such run, or not loaded") };
    let f: fn(&super::model::RunData) -> serde_json::Value = match view.as_str() {
        "parameters" => views::parameters,
        "workers" => views::workers,
        "pareto" => views::pareto,
        "budgets" => views::budgets,
        _ => return not_found("no such view"),
    };
    match tokio::task::spawn_blocking(move || f(&d)).await {
        Ok(v) => Json(v).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}
