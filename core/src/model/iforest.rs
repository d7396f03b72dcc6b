//! Isolation Forest (Liu, Ting & Zhou, 2008): anomalies are few and
//! different, so random axis-parallel splits isolate them in fewer steps.
//!
//! Written here rather than taken from `extended-isolation-forest`: that
//! crate draws from `thread_rng` (no seed, so the same data gives another
//! model every time) and splits on hyperplanes, a dot product over every
//! dimension at each node where the original algorithm needs one compare.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

/// Training parameters; the defaults are the paper's.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct IsolationForestParams {
    /// Number of trees.
    pub trees: usize,
    /// Rows sub-sampled per tree (ψ); small samples isolate anomalies best.
    pub sample_size: usize,
    pub seed: u64,
}

impl Default for IsolationForestParams {
    fn default() -> Self {
        IsolationForestParams {
            trees: 100,
            sample_size: 256,
            seed: 42,
        }
    }
}

/// A trained forest. Scores are in (0, 1): near 1 anomalous, ≤ 0.5 normal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IsolationForest {
    dims: usize,
    /// c(ψ): the average path length of an unsuccessful BST search over the
    /// sample size, which normalises path lengths into a score.
    normaliser: f64,
    trees: Vec<Tree>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Tree {
    /// Nodes in a flat vector; children are indices into it.
    nodes: Vec<Node>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Node {
    Split {
        feature: usize,
        threshold: f64,
        left: usize,
        right: usize,
    },
    Leaf {
        size: usize,
    },
}

/// Why a forest could not be trained.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum IsolationForestError {
    #[error("no training rows")]
    Empty,
    #[error("row data of length {len} is not a multiple of {dims} columns")]
    Shape { len: usize, dims: usize },
}

impl IsolationForest {
    /// Trains on `rows`, row-major with `dims` columns.
    pub fn fit(
        rows: &[f64],
        dims: usize,
        params: &IsolationForestParams,
    ) -> Result<Self, IsolationForestError> {
        if dims == 0 || rows.len() % dims != 0 {
            return Err(IsolationForestError::Shape {
                len: rows.len(),
                dims,
            });
        }
        let n = rows.len() / dims;
        if n == 0 {
            return Err(IsolationForestError::Empty);
        }
        let sample_size = params.sample_size.clamp(1, n);
        let height_limit = (sample_size as f64).log2().ceil().max(1.0) as usize;
        let mut rng = StdRng::seed_from_u64(params.seed);
        let trees = (0..params.trees.max(1))
            .map(|_| {
                let mut sample: Vec<usize> =
                    rand::seq::index::sample(&mut rng, n, sample_size).into_vec();
                let mut builder = TreeBuilder {
                    rows,
                    dims,
                    height_limit,
                    rng: &mut rng,
                    nodes: Vec::new(),
                };
                builder.grow(&mut sample, 0);
                Tree {
                    nodes: builder.nodes,
                }
            })
            .collect();
        Ok(IsolationForest {
            dims,
            normaliser: average_path_length(sample_size),
            trees,
        })
    }

    /// Number of columns the forest expects.
    pub fn dims(&self) -> usize {
        self.dims
    }

    /// The anomaly score s(x) = 2^(−E[h(x)] / c(ψ)) of one row.
    pub fn score(&self, row: &[f64]) -> f64 {
        debug_assert_eq!(row.len(), self.dims);
        let total: f64 = self.trees.iter().map(|t| t.path_length(row)).sum();
        let mean = total / self.trees.len() as f64;
        if self.normaliser == 0.0 {
            return 0.5;
        }
        2f64.powf(-mean / self.normaliser)
    }

    /// Scores every row of row-major `rows`.
    pub fn score_all(&self, rows: &[f64]) -> Vec<f64> {
        rows.chunks_exact(self.dims)
            .map(|r| self.score(r))
            .collect()
    }
}

impl Tree {
    fn path_length(&self, row: &[f64]) -> f64 {
        let mut index = 0;
        let mut depth = 0.0;
        loop {
            match &self.nodes[index] {
                Node::Split {
                    feature,
                    threshold,
                    left,
                    right,
                } => {
                    index = if row[*feature] < *threshold {
                        *left
                    } else {
                        *right
                    };
                    depth += 1.0;
                }
                // A leaf holding several rows stands for the subtree that
                // the height limit cut off: add its expected depth.
                Node::Leaf { size } => return depth + average_path_length(*size),
            }
        }
    }
}

struct TreeBuilder<'a, R> {
    rows: &'a [f64],
    dims: usize,
    height_limit: usize,
    rng: &'a mut R,
    nodes: Vec<Node>,
}

impl<R: Rng> TreeBuilder<'_, R> {
    /// Grows the subtree over `sample` and returns its node index.
    fn grow(&mut self, sample: &mut [usize], depth: usize) -> usize {
        let index = self.nodes.len();
        self.nodes.push(Node::Leaf { size: sample.len() });
        if depth >= self.height_limit || sample.len() <= 1 {
            return index;
        }
        let Some((feature, low, high)) = self.pick_feature(sample) else {
            return index; // every row identical: nothing left to isolate
        };
        let threshold = self.rng.random_range(low..high);
        let split = partition(sample, |&r| self.value(r, feature) < threshold);
        let (left_rows, right_rows) = sample.split_at_mut(split);
        let left = self.grow(left_rows, depth + 1);
        let right = self.grow(right_rows, depth + 1);
        self.nodes[index] = Node::Split {
            feature,
            threshold,
            left,
            right,
        };
        index
    }

    /// A random feature that still varies within `sample`, with its range.
    fn pick_feature(&mut self, sample: &[usize]) -> Option<(usize, f64, f64)> {
        let start = self.rng.random_range(0..self.dims);
        (0..self.dims)
            .map(|offset| (start + offset) % self.dims)
            .find_map(|feature| {
                let (low, high) = sample.iter().fold((f64::MAX, f64::MIN), |(lo, hi), &r| {
                    let v = self.value(r, feature);
                    (lo.min(v), hi.max(v))
                });
                (low < high).then_some((feature, low, high))
            })
    }

    fn value(&self, row: usize, feature: usize) -> f64 {
        self.rows[row * self.dims + feature]
    }
}

/// Moves the items matching `left` to the front; returns how many there are.
fn partition(items: &mut [usize], left: impl Fn(&usize) -> bool) -> usize {
    let mut split = 0;
    for i in 0..items.len() {
        if left(&items[i]) {
            items.swap(split, i);
            split += 1;
        }
    }
    split
}

/// c(n): the average path length of an unsuccessful search in a binary
/// search tree of n items (the paper's normaliser).
fn average_path_length(n: usize) -> f64 {
    const EULER_GAMMA: f64 = 0.577_215_664_901_532_9;
    match n {
        0 | 1 => 0.0,
        2 => 1.0,
        _ => {
            let n = n as f64;
            2.0 * ((n - 1.0).ln() + EULER_GAMMA) - 2.0 * (n - 1.0) / n
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_distr::{Distribution, Normal};

    /// 2,000 rows of a 3-d standard normal cloud.
    fn normal_cloud(seed: u64) -> Vec<f64> {
        let mut rng = StdRng::seed_from_u64(seed);
        let normal = Normal::new(0.0, 1.0).unwrap();
        (0..6_000).map(|_| normal.sample(&mut rng)).collect()
    }

    #[test]
    fn outliers_score_higher_than_inliers() {
        let forest = IsolationForest::fit(&normal_cloud(1), 3, &Default::default()).unwrap();
        let centre = forest.score(&[0.0, 0.0, 0.0]);
        let outlier = forest.score(&[6.0, -6.0, 6.0]);
        assert!(centre < 0.5, "centre scored {centre}");
        assert!(outlier > 0.65, "outlier scored {outlier}");
    }

    #[test]
    fn same_seed_same_forest() {
        let data = normal_cloud(2);
        let params = IsolationForestParams::default();
        let a = IsolationForest::fit(&data, 3, &params).unwrap();
        let b = IsolationForest::fit(&data, 3, &params).unwrap();
        assert_eq!(a, b);
        let other = IsolationForestParams { seed: 7, ..params };
        assert_ne!(a, IsolationForest::fit(&data, 3, &other).unwrap());
    }

    #[test]
    fn serde_round_trip_keeps_scores() {
        let forest = IsolationForest::fit(&normal_cloud(3), 3, &Default::default()).unwrap();
        let json = serde_json::to_string(&forest).unwrap();
        let back: IsolationForest = serde_json::from_str(&json).unwrap();
        assert_eq!(back.score(&[1.0, 2.0, 3.0]), forest.score(&[1.0, 2.0, 3.0]));
    }

    #[test]
    fn constant_data_scores_neutral_and_bad_shapes_are_errors() {
        let forest = IsolationForest::fit(&[1.0; 30], 3, &Default::default()).unwrap();
        // Nothing can be isolated: every row is a leaf of 10 at depth 0.
        let s = forest.score(&[1.0, 1.0, 1.0]);
        assert!((s - 0.5).abs() < 1e-12, "{s}");
        assert_eq!(
            IsolationForest::fit(&[], 3, &Default::default()),
            Err(IsolationForestError::Empty)
        );
        assert!(IsolationForest::fit(&[1.0; 4], 3, &Default::default()).is_err());
    }

    #[test]
    fn normaliser_matches_the_paper() {
        assert_eq!(average_path_length(1), 0.0);
        assert_eq!(average_path_length(2), 1.0);
        // c(256) = 2 H(255) − 2·255/256 ≈ 10.2448
        assert!((average_path_length(256) - 10.2448).abs() < 1e-3);
    }
}
