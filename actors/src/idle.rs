//! Actors whose work arrives with later features of Vigil. They are
//! supervised and reported from the start so that the runtime's shape,
//! health API and metrics do not change when their work lands; until then
//! they answer only the liveness probe.

use std::sync::Arc;

use crate::supervisor::{Factory, Worker};

macro_rules! idle_actor {
    ($(#[$doc:meta])* $name:ident, $actor:literal) => {
        $(#[$doc])*
        pub struct $name;

        impl Worker for $name {
            const NAME: &'static str = $actor;
        }

        impl $name {
            /// A factory for the supervisor.
            pub fn factory() -> Factory<$name> {
                Arc::new(|| Box::pin(async { Ok($name) }))
            }
        }
    };
}

idle_actor!(
    /// Compares recent features with a reference window on a schedule.
    DriftChecker,
    "drift_checker"
);
