//! The statistics against SciPy / NumPy: `fixtures/drift.json`, written by
//! `scripts/fixtures/drift.py` (see its header for what each value is and
//! how to regenerate it). Everything must match within 1e-6, p-values
//! included; p-values are also held to 1e-6 *relative* error, so tiny
//! p-values are checked too.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::binning::{categorical_counts, numeric_buckets};
use super::kolmogorov::kstwo_sf;
use super::special::chi2_sf;
use super::*;

const TOL: f64 = 1e-6;

#[derive(Deserialize)]
struct File {
    versions: BTreeMap<String, String>,
    numeric: Vec<NumericCase>,
    generated: Vec<GeneratedCase>,
    categorical: Vec<CategoricalCase>,
    kstwo: Vec<KstwoPoint>,
    chi2: Vec<Chi2Point>,
}

/// A JSON number, or "inf" / "-inf" / "nan".
#[derive(Deserialize, Clone, Copy, Debug)]
#[serde(try_from = "NumRaw")]
struct Num(f64);

#[derive(Deserialize)]
#[serde(untagged)]
enum NumRaw {
    F(f64),
    S(String),
}

impl TryFrom<NumRaw> for Num {
    type Error = String;

    fn try_from(raw: NumRaw) -> Result<Self, String> {
        match raw {
            NumRaw::F(x) => Ok(Num(x)),
            NumRaw::S(s) => match s.as_str() {
                "inf" => Ok(Num(f64::INFINITY)),
                "-inf" => Ok(Num(f64::NEG_INFINITY)),
                "nan" => Ok(Num(f64::NAN)),
                _ => Err(format!("bad number {s:?}")),
            },
        }
    }
}

impl Num {
    fn get(self) -> f64 {
        self.0
    }
}

#[derive(Deserialize)]
struct NumericCase {
    name: String,
    reference: Vec<Option<f64>>,
    current: Vec<Option<f64>>,
    expected: NumericExpected,
}

#[derive(Deserialize)]
struct Spec {
    n: u64,
    mult: u64,
    modulus: u64,
    shift: f64,
}

impl Spec {
    /// Same arithmetic as `generated()` in the script.
    fn values(&self) -> Vec<f64> {
        (0..self.n)
            .map(|i| ((i * self.mult) % self.modulus) as f64 / 97.0 + self.shift)
            .collect()
    }
}

#[derive(Deserialize)]
struct GeneratedCase {
    name: String,
    reference_spec: Spec,
    current_spec: Spec,
    expected: NumericExpected,
}

#[derive(Deserialize)]
struct Ks {
    statistic: Num,
    p_value: Num,
    method: String,
}

#[derive(Deserialize)]
struct Chi {
    statistic: Num,
    p_value: Num,
    dof: usize,
}

#[derive(Deserialize)]
struct NumericExpected {
    wasserstein: Num,
    wasserstein_normed: Num,
    ks_auto: Ks,
    ks_asymp: Ks,
    reference_mean: Num,
    current_mean: Num,
    buckets: usize,
    psi: Num,
    jensenshannon: Num,
    chisquare: Chi,
}

#[derive(Deserialize)]
struct CategoricalCase {
    name: String,
    reference: BTreeMap<String, usize>,
    current: BTreeMap<String, usize>,
    expected: CategoricalExpected,
}

#[derive(Deserialize)]
struct CategoricalExpected {
    buckets: usize,
    psi: Num,
    jensenshannon: Num,
    chisquare: Chi,
}

#[derive(Deserialize)]
struct KstwoPoint {
    n: u64,
    x: f64,
    sf: Num,
}

#[derive(Deserialize)]
struct Chi2Point {
    df: u32,
    x: f64,
    sf: Num,
}

fn file() -> File {
    serde_json::from_str(include_str!("fixtures/drift.json")).expect("fixtures/drift.json parses")
}

/// Within 1e-6 absolute (infinities must agree).
#[track_caller]
fn assert_close(got: f64, want: Num, what: &str) {
    let want = want.get();
    if want.is_infinite() || got.is_infinite() {
        assert_eq!(got, want, "{what}");
        return;
    }
    assert!(
        (got - want).abs() <= TOL,
        "{what}: got {got:e}, scipy {want:e}, diff {:e}",
        (got - want).abs()
    );
}

/// A p-value: within 1e-6 absolute and 1e-6 relative (or 1e-300 absolute).
#[track_caller]
fn assert_p(got: f64, want: Num, what: &str) {
    assert_close(got, want, what);
    let w = want.get();
    let ok = (got - w).abs() <= TOL * w.abs() || (got - w).abs() <= 1e-300;
    assert!(
        ok,
        "{what}: got {got:e}, scipy {w:e}, relative diff {:e}",
        (got - w).abs() / w.abs()
    );
}

/// SciPy's chi-square p-value, except with one category (no degrees of
/// freedom), where SciPy says NaN and `chi_square` says 1.
fn chi_p_value(chi: &Chi) -> Num {
    if chi.dof == 0 {
        assert!(
            chi.p_value.get().is_nan(),
            "scipy gives NaN without degrees of freedom"
        );
        Num(1.0)
    } else {
        chi.p_value
    }
}

fn expand(counts: &BTreeMap<String, usize>) -> Vec<String> {
    // Interleave so the lists are not grouped (order must not matter).
    let mut out = Vec::new();
    let mut left: Vec<(&String, usize)> = counts.iter().map(|(k, &n)| (k, n)).collect();
    while left.iter().any(|(_, n)| *n > 0) {
        for (k, n) in left.iter_mut().filter(|(_, n)| *n > 0) {
            out.push((*k).clone());
            *n -= 1;
        }
    }
    out
}

fn check_numeric(name: &str, r: &[f64], c: &[f64], e: &NumericExpected) {
    assert_close(
        wasserstein_distance(r, c).unwrap(),
        e.wasserstein,
        &format!("{name} wasserstein"),
    );
    assert_close(
        wasserstein_normed(r, c).unwrap(),
        e.wasserstein_normed,
        &format!("{name} wasserstein_normed"),
    );

    let auto = ks_two_sample(r, c).unwrap();
    assert_close(
        auto.statistic,
        e.ks_auto.statistic,
        &format!("{name} ks statistic"),
    );
    assert_p(
        auto.p_value,
        e.ks_auto.p_value,
        &format!("{name} ks p ({})", e.ks_auto.method),
    );
    let method = match e.ks_auto.method.as_str() {
        "exact" => KsMethod::Exact,
        "asymp" => KsMethod::Asymp,
        m => panic!("{name}: unknown method {m}"),
    };
    assert_eq!(auto.method, method, "{name} ks method");
    let asymp = ks_two_sample_with(r, c, KsMethod::Asymp).unwrap();
    assert_eq!(asymp.method, KsMethod::Asymp);
    assert_close(
        asymp.statistic,
        e.ks_asymp.statistic,
        &format!("{name} ks asymp statistic"),
    );
    assert_p(
        asymp.p_value,
        e.ks_asymp.p_value,
        &format!("{name} ks asymp p"),
    );

    let rs = clean_sorted(r);
    let cs = clean_sorted(c);
    assert_close(
        mean(&rs).unwrap(),
        e.reference_mean,
        &format!("{name} reference mean"),
    );
    assert_close(
        mean(&cs).unwrap(),
        e.current_mean,
        &format!("{name} current mean"),
    );
    let buckets = numeric_buckets(&rs, &cs);
    assert_eq!(buckets.reference.len(), e.buckets, "{name} bucket count");
    assert_close(psi(r, c).unwrap(), e.psi, &format!("{name} psi"));
    assert_close(
        jensen_shannon_distance_numeric(r, c).unwrap(),
        e.jensenshannon,
        &format!("{name} js"),
    );
    let chi = chi_square_counts(&buckets.reference, &buckets.current).unwrap();
    assert_close(
        chi.statistic,
        e.chisquare.statistic,
        &format!("{name} chi statistic"),
    );
    assert_eq!(chi.dof, e.chisquare.dof, "{name} chi dof");
    let chi_p = chi_p_value(&e.chisquare);
    assert_p(chi.p_value, chi_p, &format!("{name} chi p"));

    // The report gives the same scores.
    let checks = [
        (StatTest::Wasserstein, e.wasserstein_normed),
        (StatTest::Ks, e.ks_auto.p_value),
        (StatTest::Psi, e.psi),
        (StatTest::JensenShannon, e.jensenshannon),
        (StatTest::ChiSquare, chi_p),
    ];
    for (test, want) in checks {
        let f = feature_drift_numeric(name, r, c, test, None);
        assert_close(
            f.drift_score.unwrap(),
            want,
            &format!("{name} report {test}"),
        );
        assert_eq!(
            f.drift_detected,
            test.is_drift(want.get()),
            "{name} report {test} decision"
        );
    }
}

#[test]
fn versions_recorded() {
    let f = file();
    assert!(f.versions.contains_key("scipy") && f.versions.contains_key("numpy"));
}

#[test]
fn numeric_cases_match_scipy() {
    let f = file();
    assert!(f.numeric.len() >= 10);
    for case in &f.numeric {
        let nan = |v: &[Option<f64>]| v.iter().map(|x| x.unwrap_or(f64::NAN)).collect::<Vec<_>>();
        check_numeric(
            &case.name,
            &nan(&case.reference),
            &nan(&case.current),
            &case.expected,
        );
    }
}

#[test]
fn generated_large_cases_match_scipy_asymp() {
    let f = file();
    for case in &f.generated {
        assert_eq!(case.expected.ks_auto.method, "asymp", "{}", case.name);
        let r = case.reference_spec.values();
        let c = case.current_spec.values();
        check_numeric(&case.name, &r, &c, &case.expected);
    }
}

#[test]
fn categorical_cases_match_scipy() {
    let f = file();
    for case in &f.categorical {
        let name = &case.name;
        let (r, c) = (expand(&case.reference), expand(&case.current));
        let e = &case.expected;
        assert_eq!(
            categorical_counts(&r, &c).0.len(),
            e.buckets,
            "{name} categories"
        );
        assert_close(
            psi_categorical(&r, &c).unwrap(),
            e.psi,
            &format!("{name} psi"),
        );
        assert_close(
            jensen_shannon_distance(&r, &c).unwrap(),
            e.jensenshannon,
            &format!("{name} js"),
        );
        let chi = chi_square(&r, &c).unwrap();
        assert_close(
            chi.statistic,
            e.chisquare.statistic,
            &format!("{name} chi statistic"),
        );
        assert_p(
            chi.p_value,
            chi_p_value(&e.chisquare),
            &format!("{name} chi p"),
        );
        assert_eq!(chi.dof, e.chisquare.dof, "{name} chi dof");
        for (test, want) in [
            (StatTest::Psi, e.psi),
            (StatTest::JensenShannon, e.jensenshannon),
            (StatTest::ChiSquare, e.chisquare.p_value),
        ] {
            let f = feature_drift_categorical(name, &r, &c, test, None);
            assert_close(
                f.drift_score.unwrap(),
                want,
                &format!("{name} report {test}"),
            );
            assert_eq!(
                f.drift_detected,
                test.is_drift(want.get()),
                "{name} report {test} decision"
            );
        }
    }
}

#[test]
fn kstwo_sf_matches_scipy() {
    let f = file();
    assert!(f.kstwo.len() > 100);
    for p in &f.kstwo {
        assert_p(
            kstwo_sf(p.n, p.x),
            p.sf,
            &format!("kstwo.sf({}, {})", p.x, p.n),
        );
    }
}

#[test]
fn chi2_sf_matches_scipy() {
    let f = file();
    for p in &f.chi2 {
        assert_p(
            chi2_sf(p.x, p.df as f64),
            p.sf,
            &format!("chi2.sf({}, {})", p.x, p.df),
        );
    }
}
