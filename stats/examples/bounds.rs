//! Prints Lan–DeMets bounds for five equally spaced looks (a quick look at the numbers).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test, bench or example: a failed unwrap is a failed run
fn main() {
    let fr = [0.2, 0.4, 0.6, 0.8, 1.0];
    for s in [vario_stats::Spending::Pocock, vario_stats::Spending::OBrienFleming] {
        println!("{s:?}: {:?}", vario_stats::sequential_bounds(&fr, 0.05, s).unwrap());
    }
}
