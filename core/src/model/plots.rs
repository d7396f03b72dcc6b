//! A model's evaluation artifacts as SVG documents (strings), drawn with
//! plotters' SVG backend: the ROC curve, the precision-recall curve and the
//! feature importance.
//!
//! # Text without a font backend
//!
//! plotters' `ttf` feature (font-kit) needs the system's font libraries and
//! `ab_glyph` needs a font file to ship, so neither is enabled. Neither is
//! needed for SVG: without them plotters compiles its "naive" font
//! (`plotters::style::font::naive`), which never fails and estimates a
//! string's box as 0.7 em per character; the estimate is used only for
//! layout (label areas, legend boxes). The SVG backend then writes every
//! title, axis description and tick label as an SVG `<text>` element with a
//! `font-family`, and the viewer renders it with whatever fonts it has. So
//! the chart builder, the mesh labels and the legend all work unchanged; the
//! only cost is that layout assumes an average glyph width, which is why the
//! label areas here are sized with some slack.

use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::metrics::CurvePoint;

/// Size of every chart, in SVG user units (pixels).
const WIDTH: u32 = 640;
const HEIGHT: u32 = 480;
/// The importance chart shows this many features at most; beyond it bars
/// get too thin to read and the tail carries little information.
pub const TOP_FEATURES: usize = 20;

const FONT: &str = "sans-serif";
const CURVE: RGBColor = RGBColor(31, 119, 180);
const REFERENCE: RGBColor = RGBColor(150, 150, 150);

/// plotters failed to draw. With a String as the target there is no I/O,
/// so this means a bug in the drawing code, not bad input: every input,
/// empty or NaN included, yields a chart.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("drawing the chart failed: {0}")]
pub struct PlotError(String);

impl<E: std::error::Error + Send + Sync> From<DrawingAreaErrorKind<E>> for PlotError {
    fn from(e: DrawingAreaErrorKind<E>) -> Self {
        PlotError(e.to_string())
    }
}

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;

/// Draws on a white `WIDTH`×`HEIGHT` canvas and returns the SVG text. The
/// backend only writes its buffer when the drawing area is presented and
/// dropped, hence the inner scope.
fn render(draw: impl FnOnce(&Area<'_>) -> Result<(), PlotError>) -> Result<String, PlotError> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE)?;
        draw(&root)?;
        root.present()?;
    }
    Ok(svg)
}

/// The curve's points as plot coordinates, without the ones that cannot be
/// drawn (a NaN would make plotters emit an invalid path) and clamped to the
/// unit square, which is where every rate lives.
fn unit_points(points: &[CurvePoint]) -> Vec<(f64, f64)> {
    points
        .iter()
        .filter(|p| p.x.is_finite() && p.y.is_finite())
        .map(|p| (p.x.clamp(0.0, 1.0), p.y.clamp(0.0, 1.0)))
        .collect()
}

/// A PR curve as the step function whose area is average precision:
/// precision Pₙ holds on the recall interval (Rₙ₋₁, Rₙ], so each point is
/// reached by a vertical then a horizontal segment. Straight lines between
/// the points would show precision that no threshold achieves.
fn steps(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let mut out = Vec::with_capacity(2 * points.len());
    for (i, &(x, y)) in points.iter().enumerate() {
        if i > 0 {
            out.push((points[i - 1].0, y));
        }
        out.push((x, y));
    }
    out
}

/// "0.9123", or "n/a" for a missing or non-finite value.
fn score_text(value: Option<f64>) -> String {
    match value {
        Some(v) if v.is_finite() => format!("{v:.4}"),
        _ => "n/a".to_owned(),
    }
}

/// Writes `text` in the middle of an empty unit-square plot, so a chart
/// with nothing to show says why instead of looking like a model that does
/// nothing.
fn no_data(area: &UnitArea<'_>, text: &str) -> Result<(), PlotError> {
    let style = TextStyle::from((FONT, 16).into_font())
        .color(&REFERENCE)
        .pos(Pos::new(HPos::Center, VPos::Center));
    area.draw(&Text::new(text.to_owned(), (0.5, 0.5), style))?;
    Ok(())
}

type UnitArea<'a> = DrawingArea<SVGBackend<'a>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// The ROC curve (see [`super::metrics::roc_curve`]) against the diagonal
/// of a random ranking, titled with its AUC ("n/a" when `auc` is `None`).
/// Points with a non-finite coordinate are skipped; with none left (a test
/// set with one class only, or NaN scores) the chart says "no data".
pub fn roc_svg(points: &[CurvePoint], auc: Option<f64>) -> Result<String, PlotError> {
    let curve = unit_points(points);
    let title = format!("ROC curve (AUC = {})", score_text(auc));
    render(|root| {
        let mut chart = ChartBuilder::on(root)
            .caption(&title, (FONT, 22))
            .margin(16)
            .x_label_area_size(48)
            .y_label_area_size(60)
            .build_cartesian_2d(0f64..1f64, 0f64..1f64)?;
        chart
            .configure_mesh()
            .x_desc("False positive rate")
            .y_desc("True positive rate")
            .max_light_lines(4)
            .label_style((FONT, 13))
            .draw()?;
        chart
            .draw_series(DashedLineSeries::new(
                [(0.0, 0.0), (1.0, 1.0)],
                6,
                4,
                REFERENCE.stroke_width(1),
            ))?
            .label("random")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], REFERENCE));
        if curve.is_empty() {
            return no_data(chart.plotting_area(), NO_CURVE);
        }
        chart
            .draw_series(LineSeries::new(curve, CURVE.stroke_width(2)))?
            .label("model")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], CURVE.stroke_width(2)));
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK.mix(0.3))
            .label_font((FONT, 13))
            .draw()?;
        Ok(())
    })
}

/// Shown instead of a curve when there is none to draw.
const NO_CURVE: &str = "no data: needs finite scores and both classes";

/// The precision-recall curve (see [`super::metrics::pr_curve`]) against
/// the precision of flagging everything, i.e. the share of fraud
/// `base_rate` (left out when it is not a number in [0, 1]); titled with the
/// average precision `ap`. Points with a non-finite coordinate are skipped;
/// with none left the chart says "no data".
pub fn pr_svg(points: &[CurvePoint], ap: Option<f64>, base_rate: f64) -> Result<String, PlotError> {
    let curve = steps(&unit_points(points));
    let title = format!("Precision-recall curve (AP = {})", score_text(ap));
    render(|root| {
        let mut chart = ChartBuilder::on(root)
            .caption(&title, (FONT, 22))
            .margin(16)
            .x_label_area_size(48)
            .y_label_area_size(60)
            .build_cartesian_2d(0f64..1f64, 0f64..1.02f64)?;
        chart
            .configure_mesh()
            .x_desc("Recall")
            .y_desc("Precision")
            .max_light_lines(4)
            .label_style((FONT, 13))
            .draw()?;
        if (0.0..=1.0).contains(&base_rate) {
            chart
                .draw_series(DashedLineSeries::new(
                    [(0.0, base_rate), (1.0, base_rate)],
                    6,
                    4,
                    REFERENCE.stroke_width(1),
                ))?
                .label(format!("fraud rate {}", score_text(Some(base_rate))))
                .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], REFERENCE));
        }
        if curve.is_empty() {
            return no_data(chart.plotting_area(), NO_CURVE);
        }
        chart
            .draw_series(LineSeries::new(curve, CURVE.stroke_width(2)))?
            .label("model")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], CURVE.stroke_width(2)));
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK.mix(0.3))
            .label_font((FONT, 13))
            .draw()?;
        Ok(())
    })
}

/// Horizontal bars of feature importance, largest at the top, the
/// [`TOP_FEATURES`] largest only. Features with equal importance keep their
/// input order; non-finite values are left out. Negative values (signed
/// attributions) get bars to the left of zero. With no finite value the
/// chart says "no data".
pub fn importance_svg(importance: &[(String, f64)]) -> Result<String, PlotError> {
    let mut bars: Vec<(&str, f64)> = importance
        .iter()
        .filter(|(_, v)| v.is_finite())
        .map(|(name, v)| (name.as_str(), *v))
        .collect();
    // Stable, so ties keep the caller's (usually the model's column) order.
    bars.sort_by(|a, b| b.1.total_cmp(&a.1));
    bars.truncate(TOP_FEATURES);
    let title = "Feature importance";
    if bars.is_empty() {
        return render(|root| {
            let chart = ChartBuilder::on(root)
                .caption(title, (FONT, 22))
                .margin(16)
                .build_cartesian_2d(0f64..1f64, 0f64..1f64)?;
            no_data(
                chart.plotting_area(),
                "no data: no feature has a finite importance",
            )
        });
    }
    let n = bars.len();
    // Row 0 is at the bottom of a plotters chart, so the largest bar gets
    // the highest row.
    let row_of = |rank: usize| (n - 1 - rank) as f64;

    let lo = bars.iter().map(|b| b.1).fold(0.0, f64::min);
    let hi = bars.iter().map(|b| b.1).fold(0.0, f64::max);
    let span = hi - lo;
    // All-zero importances still need a non-empty axis; otherwise leave 5%
    // of room past the longest bar so it does not touch the frame.
    let (lo, hi) = if span > 0.0 {
        (
            if lo < 0.0 { lo - 0.05 * span } else { 0.0 },
            if hi > 0.0 { hi + 0.05 * span } else { 0.0 },
        )
    } else {
        (0.0, 1.0)
    };
    // Room for the longest name at 13 px (the naive font estimates 0.7 em
    // a character; 8 px leaves slack for wide glyphs), bounded so one very
    // long name cannot squeeze the bars away.
    let longest = bars.iter().map(|b| b.0.chars().count()).max().unwrap_or(0);
    let label_area = (longest as u32 * 8 + 16).clamp(60, 280);

    render(|root| {
        let mut chart = ChartBuilder::on(root)
            .caption(title, (FONT, 22))
            .margin(16)
            .x_label_area_size(48)
            .y_label_area_size(label_area)
            .build_cartesian_2d(lo..hi, 0f64..n as f64)?;
        // The names are written below rather than as y tick labels: f64
        // tick positions come from plotters' "nice number" search and need
        // not fall on row centres; custom key points (`with_key_points`)
        // have no label formatter; and the segmented coordinate meant for
        // categories mis-maps a range holding a single category.
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(0)
            .max_light_lines(4)
            .x_desc("Importance")
            .label_style((FONT, 13))
            .draw()?;
        chart.draw_series(bars.iter().enumerate().map(|(rank, &(_, value))| {
            let row = row_of(rank);
            Rectangle::new([(0.0, row + 0.15), (value, row + 0.85)], CURVE.filled())
        }))?;
        let style =
            TextStyle::from((FONT, 13).into_font()).pos(Pos::new(HPos::Right, VPos::Center));
        for (rank, &(name, _)) in bars.iter().enumerate() {
            let (x, y) = chart.backend_coord(&(lo, row_of(rank) + 0.5));
            root.draw(&Text::new(name, (x - 6, y), style.clone()))?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::metrics::{average_precision, pr_curve, roc_auc, roc_curve};

    fn sample() -> (Vec<bool>, Vec<f64>) {
        let labels = vec![true, false, true, false, false, true, false, false];
        let scores = vec![0.9, 0.8, 0.7, 0.4, 0.3, 0.3, 0.2, 0.1];
        (labels, scores)
    }

    /// The checks a browser would fail on first: an `<svg>` root, a drawn
    /// line, the title, and no NaN leaking into coordinates.
    fn assert_svg(svg: &str, title: &str) {
        assert!(
            svg.starts_with("<svg"),
            "not an SVG document: {}",
            &svg[..svg.len().min(80)]
        );
        assert!(svg.trim_end().ends_with("</svg>"));
        assert!(
            svg.contains("<path") || svg.contains("<polyline"),
            "nothing drawn"
        );
        assert!(svg.contains(title), "title {title:?} missing");
        assert!(!svg.contains("NaN"), "NaN in the SVG");
        assert!(svg.contains("<text"), "no text element");
    }

    #[test]
    fn roc_svg_draws_curve_diagonal_and_labels() {
        let (labels, scores) = sample();
        let points = roc_curve(&labels, &scores);
        let svg = roc_svg(&points, roc_auc(&labels, &scores)).unwrap();
        // Of the 3·5 (fraud, legit) pairs, 0.9 wins 5, 0.7 wins 4 and 0.3
        // wins 2 and ties 1: 11.5/15.
        assert_svg(&svg, "ROC curve (AUC = 0.7667)");
        assert!(svg.contains("False positive rate"));
        assert!(svg.contains("True positive rate"));
        assert!(svg.contains("random"), "diagonal's legend entry missing");
        assert!(svg.contains("stroke-dasharray") || svg.matches("<polyline").count() >= 3);
    }

    #[test]
    fn pr_svg_draws_curve_and_baseline() {
        let (labels, scores) = sample();
        let points = pr_curve(&labels, &scores);
        let ap = average_precision(&labels, &scores);
        let svg = pr_svg(&points, ap, 3.0 / 8.0).unwrap();
        assert_svg(&svg, "Precision-recall curve (AP = ");
        assert!(svg.contains("Recall") && svg.contains("Precision"));
        assert!(svg.contains("fraud rate 0.3750"));
        // An unusable base rate only drops the baseline.
        let svg = pr_svg(&points, None, f64::NAN).unwrap();
        assert_svg(&svg, "Precision-recall curve (AP = n/a)");
        assert!(!svg.contains("fraud rate"));
    }

    #[test]
    fn importance_svg_sorts_and_keeps_top_features() {
        let importance: Vec<(String, f64)> = (0..30)
            .map(|i| (format!("feature_{i:02}"), i as f64))
            .chain([("amount <&> ratio".to_owned(), 100.0)])
            .collect();
        let svg = importance_svg(&importance).unwrap();
        assert_svg(&svg, "Feature importance");
        // Text is escaped, not injected into the markup.
        assert!(svg.contains("amount &lt;&amp;&gt; ratio"));
        // Top 20: the special one and feature_29 ..= feature_11.
        assert!(svg.contains("feature_29") && svg.contains("feature_11"));
        assert!(!svg.contains("feature_10") && !svg.contains("feature_00"));
        // Largest first from the top: its label sits above the next one's.
        // plotters writes a text element's content on a line of its own.
        let y_of = |name: &str| -> i32 {
            let at = svg.find(&format!("\n{name}\n</text>")).unwrap();
            let tag = &svg[svg[..at].rfind("<text").unwrap()..at];
            let y = tag.split(" y=\"").nth(1).unwrap();
            y[..y.find('"').unwrap()].parse().unwrap()
        };
        assert!(y_of("amount &lt;&amp;&gt; ratio") < y_of("feature_29"));
        assert!(y_of("feature_29") < y_of("feature_11"));
    }

    #[test]
    fn importance_svg_handles_one_zero_and_negative_bars() {
        assert_svg(&importance_svg(&[("only".into(), 0.0)]).unwrap(), "only");
        let signed = [("up".to_owned(), 0.4), ("down".to_owned(), -0.2)];
        assert_svg(&importance_svg(&signed).unwrap(), "down");
    }

    #[test]
    fn empty_input_draws_an_empty_state_chart() {
        let svg = roc_svg(&[], None).unwrap();
        assert_svg(&svg, "ROC curve (AUC = n/a)");
        assert!(svg.contains(NO_CURVE));
        let svg = pr_svg(&[], None, 0.0).unwrap();
        assert_svg(&svg, "Precision-recall curve (AP = n/a)");
        assert!(svg.contains(NO_CURVE));
        for importance in [vec![], vec![("nan".to_owned(), f64::NAN)]] {
            let svg = importance_svg(&importance).unwrap();
            assert!(svg.starts_with("<svg") && svg.contains("Feature importance"));
            assert!(svg.contains("no data"));
            assert!(!svg.contains("NaN"));
        }
    }

    #[test]
    fn nan_scores_do_not_panic() {
        // NaN scores: the metrics give no curve and no AUC.
        let labels = [true, false, true];
        let scores = [0.9, f64::NAN, 0.1];
        let points = roc_curve(&labels, &scores);
        let svg = roc_svg(&points, roc_auc(&labels, &scores)).unwrap();
        assert_svg(&svg, "AUC = n/a");
        assert!(svg.contains(NO_CURVE));
        // NaN coordinates handed in directly are skipped; NaN AUC is "n/a".
        let mut points = roc_curve(&[true, false], &[0.9, 0.1]);
        points.push(CurvePoint {
            x: f64::NAN,
            y: 0.5,
            threshold: f64::NAN,
        });
        let svg = roc_svg(&points, Some(f64::NAN)).unwrap();
        assert_svg(&svg, "ROC curve (AUC = n/a)");
        assert!(!svg.contains(NO_CURVE));
        let svg = pr_svg(&points, Some(f64::NAN), f64::INFINITY).unwrap();
        assert_svg(&svg, "AP = n/a");
        let only_nan = [CurvePoint {
            x: f64::NAN,
            y: f64::NAN,
            threshold: 0.5,
        }];
        assert_svg(&pr_svg(&only_nan, None, 0.1).unwrap(), NO_CURVE);
    }
}
