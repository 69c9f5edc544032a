//! Checks that the charting library the report inlines is installed
//! (`just report-assets`, part of `just setup-langs`), with a message
//! saying how, before `include_str!` fails with a bare path.

fn main() {
    let echarts = "report-assets/node_modules/echarts/dist/echarts.min.js";
    println!("cargo:rerun-if-changed={echarts}");
    println!("cargo:rerun-if-changed=report-assets/package-lock.json");
    if !std::path::Path::new(echarts).exists() {
        panic!("{echarts} is missing: run `just report-assets` (npm install in crates/liu-research/report-assets)");
    }
}
