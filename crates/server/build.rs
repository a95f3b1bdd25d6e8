//! Rebuilds the binary when the web UI build changes, so the embedded UI is never stale.

fn main() {
    println!("cargo:rerun-if-changed=../../web/dist");
}
