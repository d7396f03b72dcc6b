//! Fault injection: arm a panic, an error or a hang for an actor's next
//! message.
//!
//! Compiled in always (it is one map lookup per message) so that tests,
//! soak scripts and chaos experiments exercise the production binary.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

/// A fault to trigger inside an actor's message handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The handler panics.
    Panic,
    /// The handler returns an error.
    Error,
    /// The handler awaits something that never comes (until the watchdog
    /// aborts it).
    Hang,
}

/// Faults waiting to be triggered, per actor name.
#[derive(Debug, Clone, Default)]
pub struct FaultInjector {
    armed: Arc<Mutex<HashMap<&'static str, VecDeque<Fault>>>>,
}

impl FaultInjector {
    /// Arms `fault` for the next message `actor` handles.
    pub fn inject(&self, actor: &'static str, fault: Fault) {
        let mut armed = self.armed.lock().unwrap_or_else(|e| e.into_inner());
        armed.entry(actor).or_default().push_back(fault);
    }

    /// Takes the next armed fault of `actor`, if any.
    pub fn take(&self, actor: &str) -> Option<Fault> {
        let mut armed = self.armed.lock().unwrap_or_else(|e| e.into_inner());
        armed.get_mut(actor).and_then(VecDeque::pop_front)
    }

    /// Faults still waiting for `actor`.
    pub fn pending(&self, actor: &str) -> usize {
        let armed = self.armed.lock().unwrap_or_else(|e| e.into_inner());
        armed.get(actor).map_or(0, VecDeque::len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_fire_once_in_order_per_actor() {
        let faults = FaultInjector::default();
        faults.inject("scorer", Fault::Panic);
        faults.inject("scorer", Fault::Error);
        assert_eq!(faults.take("producer"), None);
        assert_eq!(faults.pending("scorer"), 2);
        assert_eq!(faults.take("scorer"), Some(Fault::Panic));
        assert_eq!(faults.take("scorer"), Some(Fault::Error));
        assert_eq!(faults.take("scorer"), None);
    }
}
