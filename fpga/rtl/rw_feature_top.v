// Top level of ringwire's FPGA feature block: the register block and the
// feature core, with the ports a PCIe DMA shell (XDMA/QDMA, Corundum)
// leaves to user logic: a register bus and AXI-Stream data in and out.
// See rw_feature_core.v for the arithmetic and the streams, rw_regs.v for
// the register map. Synchronous active-high reset. CH_BITS (1..16) sets
// the channel slots, 2^CH_BITS (the simulation builds 8: 256); RD_LAT (2
// or 3) the accumulator RAM's read latency (default 3 above 4,096 slots,
// where the RAM's bank multiplexer gets its own register; see
// rw_feature_core.v).
`default_nettype none

module rw_feature_top #(
    parameter integer CH_BITS = 8,
    parameter integer RD_LAT  = (CH_BITS > 12) ? 3 : 2
) (
    input  wire         clk,
    input  wire         rst,
    // register bus
    input  wire [7:0]   bus_addr,
    input  wire [31:0]  bus_wdata,
    input  wire         bus_we,
    output wire [31:0]  bus_rdata,
    // samples in
    input  wire         s_tvalid,
    output wire         s_tready,
    input  wire [15:0]  s_tdata,
    input  wire [15:0]  s_tuser,
    // feature records out
    output wire         m_tvalid,
    input  wire         m_tready,
    output wire [639:0] m_tdata,
    output wire [15:0]  m_tuser
);
    wire        enable;
    wire        soft_reset;
    wire [16:0] chan_count;
    wire        clr_valid;
    wire [15:0] clr_chan;
    wire        busy;
    wire        in_flight;
    wire [31:0] samples_in;
    wire [31:0] records_out;
    wire [31:0] drops;

    rw_regs #(
        .CH_BITS(CH_BITS),
        .RD_LAT (RD_LAT)
    ) u_regs (
        .clk        (clk),
        .rst        (rst),
        .bus_addr   (bus_addr),
        .bus_wdata  (bus_wdata),
        .bus_we     (bus_we),
        .bus_rdata  (bus_rdata),
        .enable     (enable),
        .soft_reset (soft_reset),
        .chan_count (chan_count),
        .clr_valid  (clr_valid),
        .clr_chan   (clr_chan),
        .busy       (busy),
        .rec_pending(m_tvalid),
        .in_flight  (in_flight),
        .samples_in (samples_in),
        .records_out(records_out),
        .drops      (drops)
    );

    rw_feature_core #(
        .CH_BITS(CH_BITS),
        .RD_LAT (RD_LAT)
    ) u_core (
        .clk        (clk),
        .rst        (rst),
        .soft_reset (soft_reset),
        .enable     (enable),
        .chan_count (chan_count),
        .clr_valid  (clr_valid),
        .clr_chan   (clr_chan),
        .s_tvalid   (s_tvalid),
        .s_tready   (s_tready),
        .s_tdata    (s_tdata),
        .s_tuser    (s_tuser),
        .m_tvalid   (m_tvalid),
        .m_tready   (m_tready),
        .m_tdata    (m_tdata),
        .m_tuser    (m_tuser),
        .busy       (busy),
        .in_flight  (in_flight),
        .samples_in (samples_in),
        .records_out(records_out),
        .drops      (drops)
    );
endmodule

`default_nettype wire
