//! The audit log of one proxy: every request and what became of it, secrets redacted.

use std::sync::{Arc, Mutex, PoisonError};

use super::secrets::Secrets;
use super::{EgressEvent, EgressOutcome};

#[derive(Debug, Clone)]
pub(crate) struct EventLog {
    state: Arc<Mutex<State>>,
    secrets: Arc<Secrets>,
    /// A sandbox can send requests in a loop; past this many events only a count is kept.
    capacity: usize,
}

#[derive(Debug, Default)]
struct State {
    events: Vec<EgressEvent>,
    dropped: u64,
}

impl EventLog {
    pub(crate) fn new(secrets: Arc<Secrets>, capacity: usize) -> Self {
        Self {
            state: Arc::default(),
            secrets,
            capacity,
        }
    }

    pub(crate) fn record(&self, mut event: EgressEvent) {
        event.host = self.secrets.redact(&event.host);
        event.path = event.path.map(|path| self.secrets.redact(&path));
        if let EgressOutcome::Denied { reason } = &mut event.outcome {
            *reason = self.secrets.redact(reason);
        }
        match &event.outcome {
            EgressOutcome::Denied { reason } => tracing::warn!(
                method = %event.method, host = %event.host, port = event.port, %reason,
                "egress denied"
            ),
            outcome => tracing::debug!(
                method = %event.method, host = %event.host, port = event.port, ?outcome,
                "egress"
            ),
        }
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if state.events.len() < self.capacity {
            state.events.push(event);
        } else {
            state.dropped += 1;
        }
    }

    /// Everything recorded so far; when the log overflowed, a last entry says how much is missing.
    pub(crate) fn snapshot(&self) -> Vec<EgressEvent> {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let mut events = state.events.clone();
        if state.dropped > 0 {
            events.push(EgressEvent {
                method: "-".to_owned(),
                host: "-".to_owned(),
                port: 0,
                path: None,
                outcome: EgressOutcome::Denied {
                    reason: format!(
                        "event log full: {} further requests were handled but not recorded",
                        state.dropped
                    ),
                },
            });
        }
        events
    }
}
