use std::time::Instant;
#[path = "../benches/core.rs"]
#[allow(dead_code)]
mod b;
fn main() {
    let text = b::many_experiments(1000);
    for _ in 0..3 {
        let t = Instant::now();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let parse = t.elapsed();
        let t = Instant::now();
        drop(v);
        let dropt = t.elapsed();
        let t = Instant::now();
        let res: Vec<_> = (0..1000).map(|i| regex::Regex::new(&format!("^(pdp|plp)_{i}$")).unwrap()).collect();
        let re = t.elapsed();
        drop(res);
        let t = Instant::now();
        let s = vario_core::Snapshot::from_json(&text).unwrap();
        let all = t.elapsed();
        let t = Instant::now();
        drop(s);
        println!("parse {parse:?} drop {dropt:?} regex {re:?} total {all:?} drop_snap {:?}", t.elapsed());
    }
}
