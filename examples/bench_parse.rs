use std::time::Instant;
fn main() {
    let path = std::env::args().nth(1).unwrap();
    let t = Instant::now();
    let src = std::fs::read_to_string(&path).unwrap();
    println!("read: {:?}", t.elapsed());
    let t = Instant::now();
    let r = linkpatrol::topology::load::parse(&src).unwrap();
    println!("parse: {:?}", t.elapsed());
    let t = Instant::now();
    let (m, _) = linkpatrol::topology::validate::validate(&r, &|_| None);
    println!("validate: {:?}", t.elapsed());
    std::mem::forget((m, r));
}
