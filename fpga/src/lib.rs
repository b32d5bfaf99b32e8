//! ringwire FPGA DSP block (placeholder).
