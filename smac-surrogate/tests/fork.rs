//! A process forked after the model used its threads (Python's `multiprocessing` with the
//! `fork` start method) must still be able to fit: rayon's global pool would hang it.

use ndarray::{Array1, Array2};
use smac_surrogate::{FeatureType, RandomForest, RandomForestConfig, Surrogate};
use std::time::{Duration, Instant};

/// A fit and a prediction large enough to run on the thread pool.
fn fit_and_predict() -> f64 {
    let x = Array2::from_shape_fn((600, 2), |(i, j)| ((i * (j + 3)) as f64 * 0.618).fract());
    let y = Array1::from_shape_fn(600, |i| x[[i, 0]] + x[[i, 1]].powi(2));
    let mut rf = RandomForest::new(RandomForestConfig::hpo(), vec![FeatureType::Continuous; 2]);
    rf.fit(x.view(), y.view()).unwrap();
    let (mean, _) = rf.predict(Array2::from_elem((2_000, 2), 0.5).view()).unwrap();
    mean[0]
}

#[test]
fn a_child_forked_after_a_fit_fits_too() {
    let parent = fit_and_predict();
    // SAFETY: the child only fits, compares and leaves with `_exit`, never returning into the
    // test harness.
    let child = unsafe { libc::fork() };
    assert!(child >= 0, "fork failed");
    if child == 0 {
        let same = std::panic::catch_unwind(fit_and_predict).is_ok_and(|m| m == parent);
        unsafe { libc::_exit(if same { 0 } else { 1 }) };
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut status = 0;
    loop {
        let done = unsafe { libc::waitpid(child, &mut status, libc::WNOHANG) };
        if done == child {
            break;
        }
        if Instant::now() > deadline {
            unsafe {
                libc::kill(child, libc::SIGKILL);
                libc::waitpid(child, &mut status, 0);
            }
            panic!("the forked child did not finish its fit within 120 s (a thread pool without threads)");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(libc::WIFEXITED(status), "the child died: status {status}");
    assert_eq!(libc::WEXITSTATUS(status), 0, "the child's fit differed from the parent's");
}
