//! Logs to stderr: text for people, or one JSON object per line with the
//! span fields for log collectors (`log.format = json`). Vigil's own
//! crates log at `info`, dependencies at `warn` (sea-orm's migrator would
//! otherwise fill the first screen); `RUST_LOG` overrides both.

use tracing::Subscriber;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::config::LogFormat;

/// Vigil's crates at `info`, everything else at `warn`.
pub const DEFAULT_FILTER: &str = "warn,vigil=info,vigil_actors=info,vigil_core=info,migration=info";

/// Installs the global subscriber, writing to stderr.
pub fn init(format: LogFormat) {
    // An empty RUST_LOG (compose passes one through) means the default.
    let directives = std::env::var(EnvFilter::DEFAULT_ENV)
        .ok()
        .filter(|d| !d.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_FILTER.to_owned());
    // Colours for a terminal only: not as escape codes in a log file.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let subscriber = subscriber(format, EnvFilter::new(directives), ansi, std::io::stderr);
    if tracing::subscriber::set_global_default(subscriber).is_err() {
        eprintln!("a logger was already installed");
    }
}

/// The subscriber for `format` and `filter`, writing to `writer` (text in
/// colours when `ansi`).
pub fn subscriber<W>(
    format: LogFormat,
    filter: EnvFilter,
    ansi: bool,
    writer: W,
) -> Box<dyn Subscriber + Send + Sync>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi && format == LogFormat::Text)
        .with_writer(writer);
    match format {
        LogFormat::Text => Box::new(builder.finish()),
        LogFormat::Json => Box::new(
            builder
                .json()
                .with_current_span(true)
                .with_span_list(true)
                .flatten_event(true)
                .finish(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use super::*;

    /// A writer into memory.
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().write(bytes)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'w> MakeWriter<'w> for Buffer {
        type Writer = Buffer;
        fn make_writer(&'w self) -> Buffer {
            self.clone()
        }
    }

    fn logged(format: LogFormat) -> String {
        let buffer = Buffer::default();
        let subscriber = subscriber(
            format,
            EnvFilter::new(DEFAULT_FILTER),
            false,
            buffer.clone(),
        );
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("actor", actor = "scorer");
            let _entered = span.enter();
            tracing::info!(target: "vigil_actors::scorer", version = 3, "serving a new model");
            tracing::info!(target: "sea_orm_migration::migrator", "Applying migration");
            tracing::warn!(target: "sea_orm_migration::migrator", "a warning of a dependency");
        });
        let bytes = buffer.0.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn json_logs_are_one_object_per_line_with_the_span_fields() {
        let text = logged(LogFormat::Json);
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
            .collect();
        // The dependency's info line is filtered out, its warning is kept.
        assert_eq!(lines.len(), 2, "{text}");
        let ours = &lines[0];
        assert_eq!(ours["message"], "serving a new model");
        assert_eq!(ours["version"], 3);
        assert_eq!(ours["level"], "INFO");
        assert_eq!(ours["span"]["actor"], "scorer", "{ours}");
        assert_eq!(ours["spans"][0]["name"], "actor", "{ours}");
        assert_eq!(lines[1]["level"], "WARN");
    }

    #[test]
    fn text_logs_keep_dependencies_at_warn() {
        let text = logged(LogFormat::Text);
        assert!(text.contains("serving a new model"), "{text}");
        assert!(text.contains("actor{actor=\"scorer\"}"), "{text}");
        assert!(!text.contains("Applying migration"), "{text}");
        assert!(text.contains("a warning of a dependency"), "{text}");
    }
}
