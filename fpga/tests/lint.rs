//! `verilator --lint-only -Wall` on the RTL prints nothing (feature
//! `fpga-sim`, which needs Verilator anyway).
#![cfg(feature = "fpga-sim")]

#[test]
fn rtl_is_lint_clean() {
    let rtl = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rtl");
    let out = std::process::Command::new(std::env::var("VERILATOR").unwrap_or("verilator".into()))
        .current_dir(&rtl)
        .args(["--lint-only", "-Wall", "--top-module", "rw_feature_top"])
        .args([
            "rw_feature_top.v",
            "rw_regs.v",
            "rw_feature_core.v",
            "rw_twiddle_rom.v",
            "rw_ram_1r1w.v",
        ])
        .output()
        .expect("run verilator");
    let text =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && text.trim().is_empty(), "{text}");
}

#[test]
fn each_module_lints_alone() {
    // DECLFILENAME: one module per file, named as the file.
    let rtl = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rtl");
    for top in ["rw_regs", "rw_twiddle_rom", "rw_ram_1r1w"] {
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
