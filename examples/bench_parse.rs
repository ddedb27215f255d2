use std::time::Instant;
fn main() {
    let path = std::env::args().nth(1).unwrap();
    let src = std::fs::read_to_string(&path).unwrap();
    for _ in 0..2 {
        let mut o = serde_saphyr::Options::default();
        o.budget = None;
        let t = Instant::now();
        let _: serde::de::IgnoredAny = serde_saphyr::from_str_with_options(&src, o.clone()).unwrap();
        println!("ignored any no budget: {:?}", t.elapsed());
        let t = Instant::now();
        let r: linkpatrol::topology::raw::RawTopology = serde_saphyr::from_str_with_options(&src, o.clone()).unwrap();
        println!("raw no budget: {:?}", t.elapsed());
        let t = Instant::now();
        let _ = linkpatrol::topology::validate::validate(&r, &|_| None);
        println!("validate: {:?}", t.elapsed());
        let t = Instant::now();
        drop(r);
        println!("drop raw: {:?}", t.elapsed());
        let t = Instant::now();
        let _ = linkpatrol::topology::load::parse(&src).unwrap();
        println!("parse (ours): {:?}", t.elapsed());
    }
}
