//! `verilator --lint-only -Wall` on the RTL prints nothing (feature
//! `fpga-sim`, which needs Verilator anyway).
#![cfg(feature = "fpga-sim")]

/// The top, linted with these `-G` parameters.
fn lint_top(params: &[&str]) {
    let rtl = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rtl");
    let out = std::process::Command::new(std::env::var("VERILATOR").unwrap_or("verilator".into()))
        .current_dir(&rtl)
        .args(["--lint-only", "-Wall", "--top-module", "rw_feature_top"])
        .args(params)
        .args([
            "rw_feature_top.v",
            "rw_regs.v",
            "rw_feature_core.v",
            "rw_twiddle_rom.v",
            "rw_ram_1r1w.v",
            "rw_ring.v",
        ])
        .output()
        .expect("run verilator");
    let text =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.trim().is_empty(),
        "{params:?}: {text}"
    );
}

#[test]
fn rtl_is_lint_clean() {
    lint_top(&[]);
}

#[test]
fn read_latency_3_builds_are_lint_clean() {
    // the wide build (banked accumulator RAM, registered bank mux) and
    // read latency 3 forced on a single bank
    lint_top(&["-GCH_BITS=15"]);
    lint_top(&["-GRD_LAT=3"]);
}

#[test]
fn the_block_without_its_ring_engine_is_lint_clean() {
    lint_top(&["-GRING=0"]);
}

#[test]
fn each_module_lints_alone() {
    // DECLFILENAME: one module per file, named as the file.
    let rtl = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rtl");
    for top in ["rw_regs", "rw_twiddle_rom", "rw_ram_1r1w", "rw_ring"] {
        let out =
            std::process::Command::new(std::env::var("VERILATOR").unwrap_or("verilator".into()))
                .current_dir(&rtl)
                .args(["--lint-only", "-Wall", &format!("{top}.v")])
                .output()
                .expect("run verilator");
        let text = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(
            out.status.success() && text.trim().is_empty(),
            "{top}: {text}"
        );
    }
}
