//! DEHB's `single_node_with_gpus`: spread the trials of a run over this node's GPUs.
//!
//! With [`crate::ParallelOptions::single_node_with_gpus`], the parallel runner counts its
//! active trials per device and gives each new trial `CUDA_VISIBLE_DEVICES` listing first the
//! device with the fewest active trials of this run (ties: the first such device in the list),
//! then the others, as DEHB does. Workers set the variable while the trial runs, so a command
//! target (a new process per trial) or a target that picks its device per trial uses it. A
//! Rust target that initializes CUDA once per worker process sees only the first trial's
//! ordering: give such workers fixed devices instead (`LocalClusterBuilder::gpus`, or
//! `CUDA_VISIBLE_DEVICES=k smac-worker …`).
//!
//! Devices are given explicitly ([`crate::ParallelOptions::gpu_devices`]) or discovered in the
//! optimizer's process: `CUDA_VISIBLE_DEVICES` when set, else the indices `nvidia-smi -L` lists.

use std::collections::HashMap;
use thiserror::Error;

/// The variable that selects CUDA devices.
pub const CUDA_VISIBLE_DEVICES: &str = "CUDA_VISIBLE_DEVICES";

/// Why GPU assignment cannot start.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum GpuError {
    /// No device was given and none was found.
    #[error(
        "single_node_with_gpus: no GPU found ({0}); set CUDA_VISIBLE_DEVICES or give the devices \
         with ParallelOptions::gpu_devices"
    )]
    NotFound(String),
}

/// Device ids from a `CUDA_VISIBLE_DEVICES` value (`"0,1"`, `"GPU-uuid,…"`).
pub fn parse_visible_devices(value: &str) -> Vec<String> {
    value.split(',').map(str::trim).filter(|d| !d.is_empty()).map(str::to_string).collect()
}

/// Device indices from the output of `nvidia-smi -L` (`GPU 0: NVIDIA A100 (UUID: …)`).
pub fn parse_nvidia_smi(output: &str) -> Vec<String> {
    output
        .lines()
        .filter_map(|l| l.strip_prefix("GPU "))
        .filter_map(|rest| rest.split_once(':'))
        .map(|(index, _)| index.trim())
        .filter(|i| !i.is_empty() && i.chars().all(|c| c.is_ascii_digit()))
        .map(str::to_string)
        .collect()
}

/// This node's GPUs: `CUDA_VISIBLE_DEVICES` when set, else what `nvidia-smi -L` lists.
pub fn discover_devices() -> Result<Vec<String>, GpuError> {
    if let Ok(value) = std::env::var(CUDA_VISIBLE_DEVICES) {
        let devices = parse_visible_devices(&value);
        return if devices.is_empty() {
            Err(GpuError::NotFound(format!("{CUDA_VISIBLE_DEVICES} is set to `{value}`")))
        } else {
            Ok(devices)
        };
    }
    let out = std::process::Command::new("nvidia-smi")
        .arg("-L")
        .output()
        .map_err(|e| GpuError::NotFound(format!("{CUDA_VISIBLE_DEVICES} is not set, nvidia-smi: {e}")))?;
    let devices = parse_nvidia_smi(&String::from_utf8_lossy(&out.stdout));
    if !out.status.success() || devices.is_empty() {
        return Err(GpuError::NotFound(format!(
            "{CUDA_VISIBLE_DEVICES} is not set and `nvidia-smi -L` listed no GPU ({})",
            out.status
        )));
    }
    Ok(devices)
}

/// Active trials per device for one run, and the device ordering of each new trial.
#[derive(Debug)]
pub(crate) struct GpuBalancer {
    devices: Vec<String>,
    active: Vec<usize>,
    by_seq: HashMap<u64, usize>,
}

impl GpuBalancer {
    /// A balancer over `devices` (explicit, or discovered when `None`).
    pub fn new(devices: Option<Vec<String>>) -> Result<Self, GpuError> {
        let devices = match devices {
            Some(d) if d.is_empty() => return Err(GpuError::NotFound("gpu_devices is empty".into())),
            Some(d) => d,
            None => discover_devices()?,
        };
        tracing::info!(?devices, "single_node_with_gpus: spreading trials over these devices");
        Ok(GpuBalancer { active: vec![0; devices.len()], devices, by_seq: HashMap::new() })
    }

    /// Picks the least-loaded device for trial `seq`; returns the `CUDA_VISIBLE_DEVICES` value
    /// (that device first, then the others in their given order).
    pub fn assign(&mut self, seq: u64) -> String {
        let (chosen, _) =
            self.active.iter().enumerate().min_by_key(|(i, n)| (**n, *i)).expect("at least one device");
        self.active[chosen] += 1;
        self.by_seq.insert(seq, chosen);
        let mut order = vec![self.devices[chosen].as_str()];
        order.extend(self.devices.iter().enumerate().filter(|(i, _)| *i != chosen).map(|(_, d)| d.as_str()));
        order.join(",")
    }

    /// Trial `seq` is over: its device has one active trial less.
    pub fn release(&mut self, seq: u64) {
        if let Some(i) = self.by_seq.remove(&seq) {
            self.active[i] = self.active[i].saturating_sub(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trials_go_to_the_least_loaded_device_first() {
        let mut b = GpuBalancer::new(Some(vec!["0".into(), "1".into(), "2".into()])).unwrap();
        assert_eq!(b.assign(0), "0,1,2");
        assert_eq!(b.assign(1), "1,0,2");
        assert_eq!(b.assign(2), "2,0,1");
        assert_eq!(b.assign(3), "0,1,2");
        b.release(1);
        assert_eq!(b.assign(4), "1,0,2", "device 1 has the fewest active trials again");
        b.release(99); // unknown trials are ignored
        assert_eq!(b.active, vec![2, 1, 1]);
        assert!(GpuBalancer::new(Some(vec![])).is_err());
    }

    #[test]
    fn devices_are_parsed_from_the_environment_and_nvidia_smi() {
        assert_eq!(parse_visible_devices(" 2, 3,,"), vec!["2", "3"]);
        assert!(parse_visible_devices("").is_empty());
        let smi = "GPU 0: NVIDIA A100-SXM4-40GB (UUID: GPU-1)\n  MIG 1g.5gb Device 0: (UUID: MIG-2)\n\
                   GPU 1: Tesla V100 (UUID: GPU-3)\n";
        assert_eq!(parse_nvidia_smi(smi), vec!["0", "1"]);
        assert!(parse_nvidia_smi("No devices were found").is_empty());
    }
}
