//! Survival function of the one-sample, two-sided Kolmogorov statistic
//! D_n, `scipy.stats.kstwo.sf(x, n)` — what `ks_2samp` uses for its
//! asymptotic p-value.
//!
//! Follows SciPy's `_kolmogn` (Simard & L'Ecuyer 2011) branch by branch:
//! Ruben–Gambino closed forms at the ends of the support, the Durbin
//! matrix (Marsaglia–Tsang–Wang) for small n·x, the Pelz–Good expansion
//! for large n, and Miller's `2 × smirnov(n, x)` in the upper tail. Two
//! differences, both between exact formulas: SciPy's Pomeranz recursion
//! (n ≤ 140, 0.754693 < n·x² ≤ 4) is replaced by the Durbin matrix, which
//! computes the same probability; and the one-sided `smirnov(n, x)` is the
//! Birnbaum–Tingey sum in log space in plain `f64` (SciPy uses
//! double-double), ~1e-12 relative for the n that occur here.

use std::f64::consts::PI;

const MIN_LOG: f64 = -708.0;

/// P(D_n > x) for the two-sided one-sample KS statistic.
pub(crate) fn kstwo_sf(n: u64, x: f64) -> f64 {
    if n == 0 || x.is_nan() {
        return f64::NAN;
    }
    let nf = n as f64;
    // Support of kstwo is [1/(2n), 1].
    if x >= 1.0 {
        return 0.0;
    }
    if x <= 0.5 / nf {
        return 1.0;
    }
    let t = nf * x;
    if t <= 1.0 {
        // Ruben–Gambino: 1/(2n) ≤ x ≤ 1/n.
        if t <= 0.5 {
            return 1.0;
        }
        let cdf = if n <= 140 {
            (1..=n)
                .map(|i| i as f64 * (1.0 / nf) * (2.0 * t - 1.0))
                .product::<f64>()
        } else {
            (log_nfactorial_div_n_pow_n(nf) + nf * (2.0 * t - 1.0).ln()).exp()
        };
        return clip(1.0 - cdf);
    }
    if t >= nf - 1.0 {
        return clip(2.0 * (1.0 - x).powf(nf));
    }
    if x >= 0.5 {
        return clip(2.0 * smirnov_sf(n, x));
    }
    let nxsquared = t * x;
    if n <= 140 {
        if nxsquared <= 4.0 {
            return clip(1.0 - durbin_cdf(n, x));
        }
        return clip(2.0 * smirnov_sf(n, x));
    }
    if nxsquared >= 370.0 {
        return 0.0;
    }
    if nxsquared >= 2.2 {
        return clip(2.0 * smirnov_sf(n, x));
    }
    let cdf = if n <= 100_000 && nf * x.powf(1.5) <= 1.4 {
        durbin_cdf(n, x)
    } else {
        pelz_good_cdf(nf, x)
    };
    clip(1.0 - cdf)
}

fn clip(p: f64) -> f64 {
    p.clamp(0.0, 1.0)
}

/// ln(n! / nⁿ) by Stirling's series with n·ln n removed up front.
fn log_nfactorial_div_n_pow_n(n: f64) -> f64 {
    // B_2j / (2j (2j − 1)) for j = 8, …, 1.
    const STIRLING: [f64; 8] = [
        -3617.0 / 122_400.0,
        1.0 / 156.0,
        -691.0 / 360_360.0,
        1.0 / 1188.0,
        -1.0 / 1680.0,
        1.0 / 1260.0,
        -1.0 / 360.0,
        1.0 / 12.0,
    ];
    let rn = 1.0 / n;
    let y = rn / n;
    let poly = STIRLING.iter().fold(0.0, |acc, c| acc * y + c);
    n.ln() / 2.0 - n + (2.0 * PI).ln() / 2.0 + rn * poly
}

/// P(D_n ≤ d) by the Durbin matrix: the (k, k) entry of Hⁿ times n!/nⁿ,
/// with d = (k − h)/n. O(m³ log n) for m = 2k − 1.
fn durbin_cdf(n: u64, d: f64) -> f64 {
    const E: i32 = 128;
    let scale = 2f64.powi(E);
    let nf = n as f64;
    if d >= 1.0 {
        return 1.0;
    }
    let nd = nf * d;
    if nd <= 0.5 {
        return 0.0;
    }
    let k = nd.ceil() as usize;
    let h = k as f64 - nd;
    let m = 2 * k - 1;

    let mut v: Vec<f64> = (1..=m).map(|j| 1.0 - h.powi(j as i32)).collect();
    let mut w = vec![0.0; m];
    let mut fac = 1.0;
    for j in 1..=m {
        w[j - 1] = fac;
        fac /= j as f64;
        v[j - 1] *= fac;
    }
    let tt = (2.0 * h - 1.0).max(0.0).powi(m as i32) - 2.0 * h.powi(m as i32);
    v[m - 1] = (1.0 + tt) * fac;

    let mut hm = vec![0.0; m * m];
    for i in 1..m {
        for r in (i - 1)..m {
            hm[r * m + i] = w[r - (i - 1)];
        }
    }
    for r in 0..m {
        hm[r * m] = v[r];
    }
    for c in 0..m {
        hm[(m - 1) * m + c] = v[m - 1 - c];
    }

    let mut pwr = vec![0.0; m * m];
    for i in 0..m {
        pwr[i * m + i] = 1.0;
    }
    let (mut expnt, mut h_expnt) = (0i64, 0i64);
    let mut nn = n;
    while nn > 0 {
        if nn % 2 == 1 {
            pwr = matmul(&pwr, &hm, m);
            expnt += h_expnt;
        }
        hm = matmul(&hm, &hm, m);
        h_expnt *= 2;
        if hm[(k - 1) * m + (k - 1)].abs() > scale {
            for x in &mut hm {
                *x /= scale;
            }
            h_expnt += E as i64;
        }
        nn /= 2;
    }
    let mut p = pwr[(k - 1) * m + (k - 1)];
    for i in 1..=n {
        p = i as f64 * p / nf;
        if p.abs() < 1.0 / scale {
            p *= scale;
            expnt -= E as i64;
        }
    }
    clip(ldexp(p, expnt))
}

fn ldexp(mut x: f64, mut e: i64) -> f64 {
    // Step so each factor is representable.
    while e > 1000 {
        x *= 2f64.powi(1000);
        e -= 1000;
    }
    while e < -1000 {
        x *= 2f64.powi(-1000);
        e += 1000;
    }
    x * 2f64.powi(e as i32)
}

fn matmul(a: &[f64], b: &[f64], m: usize) -> Vec<f64> {
    let mut out = vec![0.0; m * m];
    for i in 0..m {
        for k in 0..m {
            let aik = a[i * m + k];
            if aik == 0.0 {
                continue;
            }
            let row = &b[k * m..(k + 1) * m];
            for (o, bv) in out[i * m..(i + 1) * m].iter_mut().zip(row) {
                *o += aik * bv;
            }
        }
    }
    out
}

/// Pelz–Good approximation of P(D_n ≤ x) (SciPy's `_kolmogn_PelzGood`).
fn pelz_good_cdf(n: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let z = n.sqrt() * x;
    let (z2, z3, z4, z6) = (z * z, z.powi(3), z.powi(4), z.powi(6));
    let qlog = -PI * PI / 8.0 / z2;
    if qlog < MIN_LOG {
        return 0.0;
    }
    let q = qlog.exp();
    let (pi2, pi4, pi6) = (PI * PI, PI.powi(4), PI.powi(6));

    let k1a = -z2;
    let k1b = pi2 / 4.0;
    let k2a = 6.0 * z6 + 2.0 * z4;
    let k2b = (2.0 * z4 - 5.0 * z2) * pi2 / 4.0;
    let k2c = pi4 * (1.0 - 2.0 * z2) / 16.0;
    let k3d = pi6 * (5.0 - 30.0 * z2) / 64.0;
    let k3c = pi4 * (-60.0 * z2 + 212.0 * z4) / 16.0;
    let k3b = pi2 * (135.0 * z4 - 96.0 * z6) / 4.0;
    let k3a = -30.0 * z6 - 90.0 * z.powi(8);

    let mut kk = [0.0_f64; 4];
    let maxk = (16.0 * z / PI).ceil() as i64;
    for k in (1..=maxk).rev() {
        let m = (2 * k - 1) as f64;
        let (m2, m4, m6) = (m * m, m.powi(4), m.powi(6));
        let qpower = q.powf(8.0 * k as f64);
        let coeffs = [
            1.0,
            k1a + k1b * m2,
            k2a + k2b * m2 + k2c * m4,
            k3a + k3b * m2 + k3c * m4 + k3d * m6,
        ];
        for (v, c) in kk.iter_mut().zip(coeffs) {
            *v = *v * qpower + c;
        }
    }
    let sqrt2pi = (2.0 * PI).sqrt();
    let denom = [z, 6.0 * z4, 72.0 * z.powi(7), 6480.0 * z.powi(10)];
    for (v, d) in kk.iter_mut().zip(denom) {
        *v = *v * q * sqrt2pi / d;
    }
    let q = (-pi2 / 2.0 / z2).exp();
    let sqrt3z = 3f64.sqrt() * z;
    let (mut k2extra, mut k3extra) = (0.0, 0.0);
    for k in (1..=maxk).rev() {
        let kf = k as f64;
        let ksq = kf * kf;
        let qp = q.powf(ksq);
        let kspi = PI * kf;
        k2extra += ksq * qp;
        k3extra += (sqrt3z + kspi) * (sqrt3z - kspi) * ksq * qp;
    }
    kk[2] += k2extra * pi2 * sqrt2pi / (-36.0 * z3);
    kk[3] += k3extra * pi2 * sqrt2pi / (216.0 * z6);
    kk.iter()
        .enumerate()
        .map(|(i, v)| v / n.powf(i as f64 / 2.0))
        .sum()
}

/// One-sided Smirnov survival function P(D⁺_n > x) by the Birnbaum–Tingey
/// sum Σ_{v=0}^{⌊n(1−x)⌋} C(n,v) x (x + v/n)^(v−1) (1 − x − v/n)^(n−v),
/// every term positive, evaluated in log space.
pub(crate) fn smirnov_sf(n: u64, x: f64) -> f64 {
    if n == 0 || !(0.0..=1.0).contains(&x) {
        return f64::NAN;
    }
    let nf = n as f64;
    if n == 1 {
        return 1.0 - x;
    }
    if x == 0.0 {
        return 1.0;
    }
    if x == 1.0 {
        return 0.0;
    }
    let nx = nf * x;
    if nx <= 1.0 {
        // Closed form for x ≤ 1/n: cdf = x (1 + x)^(n−1).
        return 1.0 - x * (1.0 + x).powf(nf - 1.0);
    }
    if -2.0 * nf * x * x < -708.396_418_532_264_1 {
        return 0.0;
    }
    if nx >= nf - 1.0 {
        return (1.0 - x).powf(nf);
    }
    if n > 1_000_000 {
        // SciPy's approximation for huge n.
        let logp = -(6.0 * nx + 1.0).powi(2) / 18.0 / nf;
        return if logp < -std::f64::consts::LN_2 {
            logp.exp()
        } else {
            1.0 + logp.exp_m1()
        };
    }
    let last = (nf * (1.0 - x)).floor() as u64;
    let ln_x = x.ln();
    let mut ln_c = 0.0; // ln C(n, v)
    let mut sum = 0.0;
    for v in 0..=last.min(n) {
        let vf = v as f64;
        let right = (nf - vf - nx) / nf; // 1 − x − v/n
        if right > 0.0 {
            let left = (vf + nx) / nf; // x + v/n
            let ln_term = ln_c + ln_x + (vf - 1.0) * left.ln() + (nf - vf) * right.ln();
            sum += ln_term.exp();
        }
        ln_c += ((nf - vf) / (vf + 1.0)).ln();
    }
    sum.clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smirnov_small_n_closed_forms() {
        // n = 2: P(D+ > x) = (1 − x)² for 1/2 ≤ x < 1.
        for x in [0.55, 0.7, 0.9] {
            assert!((smirnov_sf(2, x) - (1.0 - x) * (1.0 - x)).abs() < 1e-15);
        }
        // Birnbaum–Tingey sum for n = 3, x = 0.4 by hand:
        // v = 0: (0.6)^3 = 0.216
        // v = 1: 3 · 0.4 · (0.4 + 1/3)^0 · (1 − 0.4 − 1/3)^2 = 1.2 · (4/15)^2
        let want = 0.216 + 1.2 * (4.0_f64 / 15.0).powi(2);
        assert!(
            (smirnov_sf(3, 0.4) - want).abs() < 1e-14,
            "{} vs {want}",
            smirnov_sf(3, 0.4)
        );
    }

    #[test]
    fn durbin_matches_closed_form_for_small_n() {
        // n = 1: P(D_1 ≤ d) = 2d − 1 for 1/2 ≤ d ≤ 1.
        assert!((durbin_cdf(1, 0.75) - 0.5).abs() < 1e-14);
        // n = 2, d in [1/2, 1): P(D_2 ≤ d) = 1 − 2(1 − d)².
        let d = 0.6;
        assert!((durbin_cdf(2, d) - (1.0 - 2.0 * (1.0_f64 - d).powi(2))).abs() < 1e-14);
    }

    #[test]
    fn support_edges() {
        assert_eq!(kstwo_sf(100, 0.0), 1.0);
        assert_eq!(kstwo_sf(100, 0.004), 1.0);
        assert_eq!(kstwo_sf(100, 1.0), 0.0);
    }
}
