//! What every connection task of the scheduler shares.

use crate::protocol::Token;
use crate::scheduler::{Msg, SchedulerConfig, Shared};
use std::sync::Arc;
use tokio::sync::mpsc;

/// What every connection task needs.
pub(crate) struct ConnContext {
    pub token: Token,
    pub cfg: SchedulerConfig,
    pub tx: mpsc::UnboundedSender<Msg>,
    pub shared: Arc<Shared>,
    /// TLS on every connection, when the scheduler was started with it.
    pub tls: Option<Arc<crate::protocol::tls::TlsIdentity>>,
}
