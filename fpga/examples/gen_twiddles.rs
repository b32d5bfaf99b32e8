//! Writes `fpga/rtl/rw_twiddles.vh` from `ringwire_dsp::features::twiddles()`.
fn main() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(ringwire_fpga::rom::TWIDDLE_INCLUDE);
    std::fs::write(&path, ringwire_fpga::rom::twiddle_include())
        .expect("write the twiddle include");
    println!("wrote {}", path.display());
}
