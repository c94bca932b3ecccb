//! What flows into and out of the scheduler task: its inbox ([`Msg`]), what it sends down
//! worker links ([`Outgoing`]) and what it tells runners ([`Notice`], through a [`NoticeSink`]).

use crate::core::TargetSpec;
use crate::protocol::{ToClient, ToScheduler};
use crate::resources::Resources;
use smac_core::{TrialInfo, TrialValue};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

pub(crate) use crate::core::TrialEnv;

/// What the scheduler sends down a worker link (TCP connection or in-process thread).
pub(crate) enum Outgoing {
    SetRunner(Arc<TargetSpec>),
    DropRunner(u64),
    Scatter { runner_id: u64, name: String, data: Arc<[u8]> },
    Run { key: u64, runner_id: u64, trial: Arc<TrialInfo>, env: TrialEnv },
    Heartbeat,
    Shutdown,
}

/// How the scheduler reaches one worker.
pub(crate) enum Link {
    /// A remote or local worker process, through its connection's writer task.
    Tcp(mpsc::UnboundedSender<Outgoing>),
    /// An in-process worker thread.
    Thread(std::sync::mpsc::Sender<Outgoing>),
}

impl Link {
    /// Queues `m`; `false` when the link is closed.
    pub fn send(&self, m: Outgoing) -> bool {
        match self {
            Link::Tcp(tx) => tx.send(m).is_ok(),
            Link::Thread(tx) => tx.send(m).is_ok(),
        }
    }
}

/// What a runner hears from the scheduler.
// Results are moved through the channel once; boxing them would add an allocation per trial.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Notice {
    /// The target reported a value (success or its own failure).
    Done { seq: u64, value: TrialValue },
    /// The trial was lost with its worker (or never found one); the runner decides what next.
    Lost { seq: u64, reason: String },
    /// The number of usable workers changed.
    Workers,
}

/// Where a runner's notices go: a runner in this process, or a remote client's connection.
pub(crate) enum NoticeSink {
    /// A runner on a thread of this process.
    Local(std::sync::mpsc::Sender<Notice>),
    /// A runner of a remote client: notices become [`ToClient`] frames on its connection.
    Remote {
        /// The client's id for the runner.
        runner_id: u64,
        /// The runner's usable-worker count, as the scheduler publishes it.
        slots: Arc<AtomicUsize>,
        /// The client connection's writer.
        tx: mpsc::UnboundedSender<ToClient>,
    },
}

impl NoticeSink {
    /// Delivers a notice; `false` when the runner is gone.
    pub fn send(&self, n: Notice) -> bool {
        match self {
            NoticeSink::Local(tx) => tx.send(n).is_ok(),
            NoticeSink::Remote { runner_id, slots, tx } => {
                let runner_id = *runner_id;
                let msg = match n {
                    // The client kept the trial; only its sequence number travels back.
                    Notice::Done { seq, value } => ToClient::Result { runner_id, seq, value },
                    Notice::Lost { seq, reason } => ToClient::Lost { runner_id, seq, reason },
                    Notice::Workers => {
                        ToClient::Workers { runner_id, n: slots.load(Ordering::Acquire) as u64 }
                    }
                };
                tx.send(msg).is_ok()
            }
        }
    }
}

/// Who a worker says it is.
pub(crate) struct Hello {
    pub tags: Vec<String>,
    pub pid: u32,
    pub host: String,
    pub resources: Resources,
}

/// Everything the scheduler task reacts to.
pub(crate) enum Msg {
    Attach {
        spec: Arc<TargetSpec>,
        notices: NoticeSink,
        slots: Arc<AtomicUsize>,
        patience: Duration,
    },
    Detach {
        runner_id: u64,
    },
    Submit {
        runner_id: u64,
        seq: u64,
        trial: TrialInfo,
        env: TrialEnv,
    },
    Scatter {
        runner_id: u64,
        name: String,
        data: Arc<[u8]>,
    },
    Joined {
        worker_id: u64,
        link: Link,
        hello: Hello,
        closer: Option<oneshot::Sender<()>>,
    },
    FromWorker {
        worker_id: u64,
        msg: ToScheduler,
    },
    Gone {
        worker_id: u64,
        reason: String,
    },
    /// A snapshot for dashboards ([`crate::scheduler::view`]).
    View(oneshot::Sender<crate::scheduler::view::ClusterView>),
    Shutdown,
}
