//! The RTL's twiddle ROM is generated from the software twiddles; this
//! fails if either drifts (regenerate with
//! `cargo run -p ringwire-fpga --example gen_twiddles`).
use ringwire_dsp::features::twiddles;
use ringwire_fpga::rom::{parse_twiddle_include, twiddle_include, TWIDDLE_INCLUDE};

fn on_disk() -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(TWIDDLE_INCLUDE);
    std::fs::read_to_string(path).expect("read rtl/rw_twiddles.vh")
}

#[test]
fn rom_file_matches_the_software_twiddles() {
    let text = on_disk();
    let table = parse_twiddle_include(&text).expect("well-formed twiddle include");
    assert_eq!(table, twiddles());
    assert_eq!(text, twiddle_include(), "rw_twiddles.vh is stale");
}

#[test]
fn rom_holds_the_full_scale_cosine_at_n0() {
    // 8192 needs 15 bits signed: the ROM's 16-bit lanes hold it.
    let table = parse_twiddle_include(&on_disk()).unwrap();
    for bin in table {
        assert_eq!(bin[0], (8192, 0));
    }
}
