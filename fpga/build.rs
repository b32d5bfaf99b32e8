//! Builds the Verilator model of the RTL and the C++ shim around it, only
//! with the `fpga-sim` feature (see README.md and /work/shared notes:
//! Verilator 5.006's runtime compiled here, the model in one translation
//! unit, always -O2).
//!
//! Two models: the default (`CH_BITS=8`, 256 slots, accumulator read
//! latency 2; symbols `rwf_*`) and the wide one (`CH_BITS=15`, 32,768
//! slots: the 250 MHz sizing, whose banked accumulator RAM has read
//! latency 3; prefix `Vrw_wide`, symbols `rwf_wide_*`), so the tests cover
//! both read latencies.
fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    #[cfg(feature = "fpga-sim")]
    sim::build();
}

#[cfg(feature = "fpga-sim")]
mod sim {
    use std::path::{Path, PathBuf};
    use std::process::Command;

    const TOP: &str = "rw_feature_top";
    const RTL: [&str; 6] = [
        "rw_feature_top.v",
        "rw_ring.v",
        "rw_regs.v",
        "rw_feature_core.v",
        "rw_twiddle_rom.v",
        "rw_ram_1r1w.v",
    ];
    const INSTALL: &str = "the `fpga-sim` feature needs Verilator (5.x) on PATH: \
        `apt-get install -y --no-install-recommends verilator` on Debian/Ubuntu \
        (or set VERILATOR to its path); build without the feature otherwise";

    fn verilator() -> String {
        println!("cargo:rerun-if-env-changed=VERILATOR");
        std::env::var("VERILATOR").unwrap_or_else(|_| "verilator".into())
    }

    pub fn build() {
        let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
        let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
        let rtl = manifest.join("rtl");
        let vl = verilator();
        let root = match Command::new(&vl)
            .args(["--getenv", "VERILATOR_ROOT"])
            .output()
        {
            Ok(o) if o.status.success() => {
                PathBuf::from(String::from_utf8_lossy(&o.stdout).trim().to_string())
            }
            _ => panic!("{INSTALL}"),
        };
        for f in RTL.iter().chain(["rw_twiddles.vh"].iter()) {
            println!("cargo:rerun-if-changed={}", rtl.join(f).display());
        }
        let shim = manifest.join("sim/rw_shim.cpp");
        println!("cargo:rerun-if-changed={}", shim.display());

        let include = root.join("include");
        let mut tus = Vec::new();
        let mut global = Vec::new();
        for (prefix, fn_prefix, params) in [
            (format!("V{TOP}"), "rwf_", &[][..]),
            ("Vrw_wide".to_string(), "rwf_wide_", &["-GCH_BITS=15"][..]),
        ] {
            let (tu, g) = model(&vl, &rtl, &out, &shim, &prefix, fn_prefix, params);
            tus.push(tu);
            global = g;
        }

        let base = || {
            let mut b = cc::Build::new();
            b.cpp(true)
                .opt_level(2)
                .debug(false)
                .warnings(false)
                .std("c++17")
                .flag("-faligned-new")
                .flag("-pthread")
                .include(&include)
                .include(include.join("vltstd"))
                .define("VM_COVERAGE", "0")
                .define("VM_SC", "0")
                .define("VM_TRACE", "0")
                .define("VM_TRACE_FST", "0")
                .define("VM_TRACE_VCD", "0");
            b
        };
        let mut b = base();
        for (tu, mdir) in &tus {
            // each TU names its model directory by absolute paths
            b.file(tu);
            b.include(mdir);
        }
        b.compile("rw_model");

        // The Verilator runtime does not change with the RTL: compile it
        // once per OUT_DIR.
        let runtime = out.join("librw_vlrt.a");
        if runtime.exists() {
            println!("cargo:rustc-link-search=native={}", out.display());
            println!("cargo:rustc-link-lib=static=rw_vlrt");
        } else {
            let mut b = base();
            for g in &global {
                b.file(include.join(format!("{g}.cpp")));
            }
            b.compile("rw_vlrt");
        }
        println!("cargo:rustc-link-lib=pthread");
    }

    /// Verilates the RTL as `prefix` with the given `-G` parameters and
    /// writes one translation unit with the model and the shim (entry
    /// points `fn_prefix*`). Returns the unit and its model directory, and
    /// the runtime's file names.
    fn model(
        vl: &str,
        rtl: &Path,
        out: &Path,
        shim: &Path,
        prefix: &str,
        fn_prefix: &str,
        params: &[&str],
    ) -> ((PathBuf, PathBuf), Vec<String>) {
        let mdir = out.join(format!("vobj-{prefix}"));
        let status = Command::new(vl)
            .args(["--cc", "-O3", "--x-assign", "fast", "--x-initial", "unique"])
            .args(["--top-module", TOP, "--prefix", prefix, "-Mdir"])
            .arg(&mdir)
            .args(params)
            .arg(format!("-I{}", rtl.display()))
            .args(RTL.iter().map(|f| rtl.join(f)))
            .status()
            .unwrap_or_else(|e| panic!("running {vl}: {e}; {INSTALL}"));
        assert!(status.success(), "verilator failed on fpga/rtl ({prefix})");

        // The generated file lists, from the *_classes.mk.
        let mk = std::fs::read_to_string(mdir.join(format!("{prefix}_classes.mk")))
            .expect("verilator wrote no *_classes.mk");
        let model = list(
            &mk,
            &[
                "VM_CLASSES_FAST",
                "VM_CLASSES_SLOW",
                "VM_SUPPORT_FAST",
                "VM_SUPPORT_SLOW",
            ],
        );
        let global = list(&mk, &["VM_GLOBAL_FAST", "VM_GLOBAL_SLOW"]);

        // The model and the shim: one translation unit.
        let mut tu = format!(
            "#define RWF_TOP {prefix}\n#define RWF_TOP_H \"{prefix}.h\"\n\
             #define RWF_FN(name) {fn_prefix}##name\n"
        );
        for c in &model {
            tu.push_str(&format!(
                "#include \"{}\"\n",
                mdir.join(format!("{c}.cpp")).display()
            ));
        }
        tu.push_str(&format!("#include \"{}\"\n", shim.display()));
        let tu_path = out.join(format!("rw_model_{prefix}.cpp"));
        std::fs::write(&tu_path, tu).unwrap();
        ((tu_path, mdir), global)
    }

    /// The names listed under the given `+=` variables of a Verilator mk.
    fn list(mk: &str, vars: &[&str]) -> Vec<String> {
        let mut names = Vec::new();
        let mut on = false;
        for line in mk.lines() {
            let t = line.trim();
            if let Some((var, _)) = t.split_once("+=") {
                on = vars.contains(&var.trim());
                continue;
            }
            if !on {
                continue;
            }
            let name = t.trim_end_matches('\\').trim();
            if name.is_empty() {
                on = line.trim_end().ends_with('\\');
                continue;
            }
            names.push(name.to_string());
            if !t.ends_with('\\') {
                on = false;
            }
        }
        names
    }
}
