//! The drift report page: one self-contained HTML document (no scripts, no
//! external assets) with the summary and, per feature, reference vs current
//! histograms as inline SVG, the statistic, its threshold and the verdict.

use std::fmt::Write;

use vigil_actors::drift_checker::DriftCheck;
use vigil_core::drift::{FeatureDrift, Histogram};

const STYLE: &str = "body{font-family:sans-serif;margin:2em;color:#222}\
table{border-collapse:collapse}td,th{padding:.3em .8em;border-bottom:1px solid #ddd;text-align:left}\
.drift{color:#b00020;font-weight:bold}.ok{color:#1b5e20}.feature{margin:1.5em 0;padding:1em;border:1px solid #ddd;border-radius:6px}\
.legend span{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px}";

/// The page for `check`.
pub fn render_report(check: &DriftCheck) -> String {
    let mut html = String::with_capacity(64 * 1024);
    let verdict = if check.dataset_drift_detected {
        "<span class=\"drift\">dataset drift detected</span>"
    } else {
        "<span class=\"ok\">no dataset drift</span>"
    };
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"/><title>Vigil drift report</title>\
         <style>{STYLE}</style></head><body>\n<h1>Vigil drift report</h1>\n\
         <p>Checked {} — status <b>{}</b>: {verdict}. {} of {} features drifted (share {:.2}, threshold {:.2}).</p>\n",
        check.timestamp.to_rfc3339(),
        check.status.as_str(),
        check.num_features_drifted,
        check.num_features_checked,
        check.dataset_drift_share,
        check.share_threshold,
    );
    if let Some(message) = &check.message {
        let _ = writeln!(html, "<p class=\"drift\">{}</p>", escape(message));
    }
    let window = |w: &vigil_actors::drift_checker::WindowInfo| {
        format!(
            "{} rows, {} ({} – {})",
            w.rows,
            escape(&w.source),
            w.start.map_or("-".into(), |t| t.to_rfc3339()),
            w.end.map_or("-".into(), |t| t.to_rfc3339()),
        )
    };
    let _ = write!(
        html,
        "<table><tr><th>reference window</th><td>{}</td></tr><tr><th>current window</th><td>{}</td></tr></table>\n\
         <p class=\"legend\"><span style=\"background:#9e9e9e\"></span>reference<span style=\"background:#1f77b4\"></span>current</p>\n",
        window(&check.reference_window),
        window(&check.current_window),
    );
    html.push_str("<h2>Features</h2>\n");
    for feature in &check.feature_details {
        feature_section(&mut html, feature);
    }
    if !check.prediction_details.is_empty() {
        html.push_str("<h2>Model output</h2>\n");
        for feature in &check.prediction_details {
            feature_section(&mut html, feature);
        }
    }
    html.push_str("</body></html>\n");
    html
}

fn feature_section(html: &mut String, f: &FeatureDrift) {
    let score = f.drift_score.map_or("n/a".into(), |s| format!("{s:.4}"));
    let verdict = if f.drift_detected {
        "<span class=\"drift\">drift</span>"
    } else {
        "<span class=\"ok\">no drift</span>"
    };
    let mean = |m: Option<f64>| m.map_or("-".into(), |v| format!("{v:.3}"));
    let _ = write!(
        html,
        "<div class=\"feature\"><h3>{}</h3><p>{} {score} (threshold {}) — {verdict}; mean {} → {}{}</p>\n{}</div>\n",
        escape(&f.feature),
        f.stattest,
        f.threshold,
        mean(f.reference_mean),
        mean(f.current_mean),
        f.note
            .as_deref()
            .map_or(String::new(), |n| format!("; {}", escape(n))),
        histogram_svg(&f.histogram),
    );
}

/// Side-by-side bars of each bin's share of its window, with the bin
/// labels underneath.
fn histogram_svg(histogram: &Histogram) -> String {
    const WIDTH: f64 = 720.0;
    const HEIGHT: f64 = 160.0;
    const LABELS: f64 = 40.0;
    let (labels, reference, current) = match histogram {
        Histogram::Numeric {
            edges,
            reference_counts,
            current_counts,
        } => (
            edges.iter().map(|e| format!("{e:.3}")).collect::<Vec<_>>(),
            reference_counts,
            current_counts,
        ),
        Histogram::Categorical {
            categories,
            reference_counts,
            current_counts,
        } => (categories.clone(), reference_counts, current_counts),
    };
    let share = |counts: &[u64]| -> Vec<f64> {
        let total = counts.iter().sum::<u64>().max(1) as f64;
        counts.iter().map(|c| *c as f64 / total).collect()
    };
    let (r, c) = (share(reference), share(current));
    let bins = r.len().max(1);
    let top = r.iter().chain(&c).copied().fold(0.0, f64::max).max(1e-9);
    let slot = WIDTH / bins as f64;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{}\" viewBox=\"0 0 {WIDTH} {}\" role=\"img\">",
        HEIGHT + LABELS,
        HEIGHT + LABELS
    );
    for i in 0..r.len() {
        for (offset, value, colour) in [(0.1, r[i], "#9e9e9e"), (0.5, c[i], "#1f77b4")] {
            let height = value / top * (HEIGHT - 10.0);
            let _ = write!(
                svg,
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{colour}\"><title>{:.1}%</title></rect>",
                i as f64 * slot + offset * slot,
                HEIGHT - height,
                0.4 * slot,
                height,
                value * 100.0
            );
        }
    }
    let _ = write!(
        svg,
        "<line x1=\"0\" y1=\"{HEIGHT}\" x2=\"{WIDTH}\" y2=\"{HEIGHT}\" stroke=\"#555\"/>"
    );
    // Numeric labels are bin edges (one more than bins): label the first,
    // the middle and the last; categories get one label each, while they fit.
    let numeric = matches!(histogram, Histogram::Numeric { .. });
    let label_at: Vec<(f64, &String)> = if numeric {
        let n = labels.len();
        [0, n / 2, n.saturating_sub(1)]
            .into_iter()
            .filter(|i| *i < n)
            .map(|i| (i as f64 * slot, &labels[i]))
            .collect()
    } else if labels.len() <= 24 {
        labels
            .iter()
            .enumerate()
            .map(|(i, l)| ((i as f64 + 0.5) * slot, l))
            .collect()
    } else {
        Vec::new()
    };
    for (x, label) in label_at {
        let _ = write!(
            svg,
            "<text x=\"{x:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"middle\">{}</text>",
            HEIGHT + 16.0,
            escape(label)
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Escapes text for HTML content and attributes (category values come
/// from the data).
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}
