//! The importance endpoint on run directories written by real (short) optimizations.

use super::*;
use crate::cli::dashboard::http::{router, AppState};
use crate::cli::dashboard::watch::Watcher;
use crate::{ConfigSpace, Hyperparameter, RandomFacade, Scenario, TrialInfo};
use std::path::{Path, PathBuf};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Runs random search for `n_trials` on a function of `x` (dominant), `y` and `kind` (minor),
/// and returns the run directory. Random search samples the whole space, so the importance
/// reflects the function; an optimizer's trials crowd near its optimum, where the log-scaled
/// cost varies mostly with the minor terms.
fn optimize(root: &Path, n_trials: usize) -> PathBuf {
    let mut cs = ConfigSpace::new("importance");
    cs.add(Hyperparameter::float("x", 0.0, 1.0)).unwrap();
    cs.add(Hyperparameter::float("y", 0.0, 1.0)).unwrap();
    cs.add(Hyperparameter::categorical("kind", ["a", "b", "c"])).unwrap();
    let scenario = Scenario::builder(cs)
        .name("importance")
        .output_directory(root)
        .n_trials(n_trials)
        .deterministic(true)
        .seed(3)
        .build()
        .unwrap();
    let mut smac = RandomFacade::builder(scenario)
        .target_fn(|t: &TrialInfo| {
            let num = |n: &str| t.config.get(n).and_then(|v| v.as_f64()).unwrap();
            let kind_b = t.config.get("kind").is_some_and(|v| v.to_string() == "b");
            let cost = 10.0 * (num("x") - 0.7).powi(2) + 0.1 * num("y") + if kind_b { 0.05 } else { 0.0 };
            Ok::<_, String>(cost)
        })
        .overwrite(true)
        .build()
        .unwrap();
    smac.optimize().unwrap();
    smac.run_directory().expect("persisted").path().to_path_buf()
}

/// Serves a dashboard of `dir` and returns the JSON body of `GET path`.
fn get(dir: PathBuf, path: &str) -> serde_json::Value {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        let watcher = Arc::new(Watcher::new(vec![dir]));
        watcher.refresh();
        let app = router(AppState { watcher, cluster: None, token: None, importance: Default::default() });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move { axum::serve(listener, app).await });
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await.unwrap();
        server.abort();
        let text = String::from_utf8(response).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 200"), "{head}\n{body}");
        serde_json::from_str(body).unwrap()
    })
}

#[test]
fn the_dominant_hyperparameter_ranks_first() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = optimize(tmp.path(), 30);
    let v = get(dir, "/api/runs/0/importance");
    assert_eq!(v["available"], true, "{v}");
    let method = v["method"].as_str().unwrap();
    assert!(method.contains("fANOVA") && method.contains("Hutter"), "{method}");
    assert!(method.contains("random forest of 10 trees fitted to 30 successful trials"), "{method}");
    let params = v["parameters"].as_array().unwrap();
    assert_eq!(params.len(), 3);
    assert_eq!(params[0]["name"], "x", "{v}");
    let first = params[0]["mean"].as_f64().unwrap();
    assert!(first > 0.5, "{v}");
    for p in &params[1..] {
        assert!(p["mean"].as_f64().unwrap() < first, "{v}");
    }
    let total = v["main_effects_total"]["mean"].as_f64().unwrap();
    assert!(total <= 1.0 + 1e-9 && total >= first - 1e-9, "{v}");
}

#[test]
fn few_trials_are_not_enough() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = optimize(tmp.path(), 6);
    let v = get(dir, "/api/runs/0/importance");
    assert_eq!(v["available"], false, "{v}");
    assert!(v["reason"].as_str().unwrap().starts_with("not enough trials: 6 successful trial(s)"), "{v}");
    assert!(v["parameters"].as_array().unwrap().is_empty());
}

#[test]
fn the_cache_keeps_one_result_per_number_of_trials() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = optimize(tmp.path(), 12);
    let data = Arc::new(RunData::new(crate::cli::rundir::Run::load(&dir).unwrap()));
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let cache = Cache::default();
    let (a, b) = rt.block_on(async { (cache.get(0, data.clone()).await, cache.get(0, data.clone()).await) });
    let (a, b) = (a.unwrap(), b.unwrap());
    assert!(Arc::ptr_eq(&a, &b), "the second request is served from the cache");
    assert!(a.available && a.n_trials == 12, "{a:?}");
}

#[test]
fn a_dashboard_of_files_only_says_why_it_has_no_cluster_view() {
    let tmp = tempfile::tempdir().unwrap();
    let v = get(tmp.path().to_path_buf(), "/api/cluster");
    assert_eq!(v["available"], false, "{v}");
    assert!(v["why"].as_str().unwrap().contains("smac scheduler --dashboard"), "{v}");
}
