//! A trial's environment variables (e.g. `CUDA_VISIBLE_DEVICES`), set while it runs in a
//! worker or Dask executor process and restored when it ends.

use std::ffi::OsString;

/// The variables a trial set, with their previous values, restored on drop.
pub(crate) struct EnvGuard(Vec<(String, Option<OsString>)>);

impl EnvGuard {
    /// Sets `env`. Trials run one at a time on the calling thread, and the process's other
    /// threads (heartbeat, watchdog, parent watch) never read the environment, so changing it
    /// here races with nothing.
    pub(crate) fn apply(env: &[(String, String)]) -> EnvGuard {
        EnvGuard(
            env.iter()
                .map(|(k, v)| {
                    let old = std::env::var_os(k);
                    std::env::set_var(k, v);
                    (k.clone(), old)
                })
                .collect(),
        )
    }
}

impl Drop for EnvGuard {
    fn drop(&mut self) {
        for (k, old) in self.0.drain(..).rev() {
            match old {
                Some(v) => std::env::set_var(&k, v),
                None => std::env::remove_var(&k),
            }
        }
    }
}
