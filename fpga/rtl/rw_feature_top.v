// Top level of ringwire's FPGA feature block: the register block, the
// feature core and the descriptor ring engine, with the ports a PCIe DMA
// shell (XDMA/QDMA, Corundum) leaves to user logic: a register bus, a DMA
// master port to host memory, and AXI-Stream data in and out. See
// rw_feature_core.v for the arithmetic and the streams, rw_regs.v for the
// register map below 0x40, rw_ring.v for the ring registers (0x40 up), the
// host memory layout and the DMA port. The ring engine owns the core's
// streams while it runs a descriptor (s_tready is low then, and no record
// leaves on m_*); otherwise the stream ports reach the core directly.
// RING = 0 leaves the engine out (for a shell with its own queue manager:
// the ring registers read 0, the DMA port is idle); the iCE40 place and
// route (scripts/pnr.sh) builds it so, to time the core alone. Synchronous active-high reset. CH_BITS (1..16) sets
// the channel slots, 2^CH_BITS (the simulation builds 8: 256); RD_LAT (2
// or 3) the accumulator RAM's read latency (default 3 above 4,096 slots,
// where the RAM's bank multiplexer gets its own register; see
// rw_feature_core.v).
`default_nettype none

module rw_feature_top #(
    parameter integer CH_BITS = 8,
    parameter integer RD_LAT  = (CH_BITS > 12) ? 3 : 2,
    parameter integer RING    = 1
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
    output wire [15:0]  m_tuser,
    // DMA master to host memory (rw_ring.v)
    output wire         dma_rd_valid,
    input  wire         dma_rd_ready,
    output wire [31:0]  dma_rd_addr,
    input  wire         dma_rd_resp_valid,
    input  wire [31:0]  dma_rd_resp_data,
    input  wire         dma_rd_resp_err,
    output wire         dma_wr_valid,
    input  wire         dma_wr_ready,
    output wire [31:0]  dma_wr_addr,
    output wire [127:0] dma_wr_data,
    // the ring has nothing to do, or waits for completion room
    output wire         ring_quiet
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

    // the register bus: 0x00..0x3F the block's registers, 0x40 up the ring's
    wire        ring_sel = bus_addr[7:6] != 2'b00;
    wire [31:0] regs_rdata;
    wire [31:0] ring_rdata;
    assign bus_rdata = ring_sel ? ring_rdata : regs_rdata;

    // the core's streams: from the ports, or from the ring engine
    wire         owns;
    wire         core_tvalid, core_tready, core_m_tvalid, core_m_tready;
    wire [15:0]  core_tdata, core_tuser, ring_tdata, ring_tuser;
    wire         ring_tvalid, ring_m_tready;
    wire [639:0] core_m_tdata;
    wire [15:0]  core_m_tuser;
    assign core_tvalid   = owns ? ring_tvalid : s_tvalid;
    assign core_tdata    = owns ? ring_tdata : s_tdata;
    assign core_tuser    = owns ? ring_tuser : s_tuser;
    assign s_tready      = !owns && core_tready;
    assign m_tvalid      = !owns && core_m_tvalid;
    assign m_tdata       = core_m_tdata;
    assign m_tuser       = core_m_tuser;
    assign core_m_tready = owns ? ring_m_tready : m_tready;

    rw_regs #(
        .CH_BITS(CH_BITS),
        .RD_LAT (RD_LAT)
    ) u_regs (
        .clk        (clk),
        .rst        (rst),
        .bus_addr   (bus_addr),
        .bus_wdata  (bus_wdata),
        .bus_we     (bus_we && !ring_sel),
        .bus_rdata  (regs_rdata),
        .enable     (enable),
        .soft_reset (soft_reset),
        .chan_count (chan_count),
        .clr_valid  (clr_valid),
        .clr_chan   (clr_chan),
        .busy       (busy),
        .rec_pending(core_m_tvalid),
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
        .s_tvalid   (core_tvalid),
        .s_tready   (core_tready),
        .s_tdata    (core_tdata),
        .s_tuser    (core_tuser),
        .m_tvalid   (core_m_tvalid),
        .m_tready   (core_m_tready),
        .m_tdata    (core_m_tdata),
        .m_tuser    (core_m_tuser),
        .busy       (busy),
        .in_flight  (in_flight),
        .samples_in (samples_in),
        .records_out(records_out),
        .drops      (drops)
    );

    generate
        if (RING != 0) begin : g_ring
        rw_ring u_ring (
            .clk              (clk),
            .rst              (rst),
            .soft_reset       (soft_reset),
            .bus_addr         (bus_addr),
            .bus_wdata        (bus_wdata),
            .bus_we           (bus_we && ring_sel),
            .bus_rdata        (ring_rdata),
            .chan_count       (chan_count),
            .core_busy        (busy),
            .core_in_flight   (in_flight),
            .owns_core        (owns),
            .c_tvalid         (ring_tvalid),
            .c_tready         (core_tready),
            .c_tdata          (ring_tdata),
            .c_tuser          (ring_tuser),
            .r_tvalid         (core_m_tvalid),
            .r_tready         (ring_m_tready),
            .r_tdata          (core_m_tdata),
            .r_tuser          (core_m_tuser),
            .quiet            (ring_quiet),
            .dma_rd_valid     (dma_rd_valid),
            .dma_rd_ready     (dma_rd_ready),
            .dma_rd_addr      (dma_rd_addr),
            .dma_rd_resp_valid(dma_rd_resp_valid),
            .dma_rd_resp_data (dma_rd_resp_data),
            .dma_rd_resp_err  (dma_rd_resp_err),
            .dma_wr_valid     (dma_wr_valid),
            .dma_wr_ready     (dma_wr_ready),
            .dma_wr_addr      (dma_wr_addr),
            .dma_wr_data      (dma_wr_data)
        );
        end else begin : g_no_ring
            assign owns          = 1'b0;
            assign ring_rdata    = 32'd0;
            assign ring_tvalid   = 1'b0;
            assign ring_tdata    = 16'd0;
            assign ring_tuser    = 16'd0;
            assign ring_m_tready = 1'b0;
            assign ring_quiet    = 1'b1;
            assign dma_rd_valid  = 1'b0;
            assign dma_rd_addr   = 32'd0;
            assign dma_wr_valid  = 1'b0;
            assign dma_wr_addr   = 32'd0;
            assign dma_wr_data   = 128'd0;
            wire unused = &{1'b0, dma_rd_ready, dma_rd_resp_valid, dma_rd_resp_data,
                            dma_rd_resp_err, dma_wr_ready, 1'b0};
        end
    endgenerate
endmodule

`default_nettype wire
