// Simple dual-port RAM: one synchronous read port (read-first: a read and
// a write of the same address in one cycle return the old word) and one
// write port; the shape FPGA block RAM (and UltraRAM) implements.
//
// OREG (0..2) output register stages after the RAM's own read register:
// read latency 1 + OREG (address at cycle t, data during cycle t + 1 +
// OREG).
//   OREG = 1: block RAM's DO_REG (UltraRAM's OREG): the RAM's
//             clock-to-out leaves the critical path (latency 2).
//   OREG = 2: with BANK_BITS > 0, the RAM is 2^BANK_BITS banks (the high
//             address bits pick one), each with its own output register
//             (DO_REG), then the bank multiplexer, then a register after
//             it (latency 3): the multiplexer gets a cycle of its own.
//             With BANK_BITS = 0 simply two registers (latency 3).
// BANK_BITS > 0 with OREG < 2 leaves the multiplexer unregistered after
// the banks' registers (latency 1 + OREG, a longer read path).
`default_nettype none

module rw_ram_1r1w #(
    parameter integer WIDTH     = 32,
    parameter integer ABITS     = 8,
    parameter integer OREG      = 0,
    parameter integer BANK_BITS = 0
) (
    input  wire             clk,
    input  wire [ABITS-1:0] raddr,
    output wire [WIDTH-1:0] rdata,
    input  wire             we,
    input  wire [ABITS-1:0] waddr,
    input  wire [WIDTH-1:0] wdata
);
    generate
        if (BANK_BITS == 0) begin : g_one
            reg [WIDTH-1:0] mem [0:(1<<ABITS)-1];
            reg [WIDTH-1:0] rd_q;

            always @(posedge clk) begin
                if (we) mem[waddr] <= wdata;
                rd_q <= mem[raddr];
            end

            if (OREG >= 2) begin : g_oreg2
                reg [WIDTH-1:0] rd_oq, rd_oq2;
                always @(posedge clk) begin
                    rd_oq  <= rd_q;
                    rd_oq2 <= rd_oq;
                end
                assign rdata = rd_oq2;
            end else if (OREG == 1) begin : g_oreg
                reg [WIDTH-1:0] rd_oq;
                always @(posedge clk) rd_oq <= rd_q;
                assign rdata = rd_oq;
            end else begin : g_noreg
                assign rdata = rd_q;
            end
        end else begin : g_banked
            localparam integer BA    = ABITS - BANK_BITS;
            localparam integer NBANK = 1 << BANK_BITS;
            wire [WIDTH-1:0] bank_q [0:NBANK-1];
            // the bank of the read, delayed to meet its data at the mux
            reg  [BANK_BITS-1:0] sel_q, sel_oq;
            genvar b;
            for (b = 0; b < NBANK; b = b + 1) begin : g_bank
                reg [WIDTH-1:0] mem [0:(1<<BA)-1];
                reg [WIDTH-1:0] rd_q;
                always @(posedge clk) begin
                    if (we && waddr[ABITS-1:BA] == b[BANK_BITS-1:0])
                        mem[waddr[BA-1:0]] <= wdata;
                    rd_q <= mem[raddr[BA-1:0]];
                end
                if (OREG >= 1) begin : g_doreg
                    reg [WIDTH-1:0] rd_oq;
                    always @(posedge clk) rd_oq <= rd_q;
                    assign bank_q[b] = rd_oq;
                end else begin : g_nodoreg
                    assign bank_q[b] = rd_q;
                end
            end
            always @(posedge clk) begin
                sel_q  <= raddr[ABITS-1:BA];
                sel_oq <= sel_q;
            end
            wire [WIDTH-1:0] muxed = bank_q[(OREG >= 1) ? sel_oq : sel_q];
            if (OREG >= 2) begin : g_mreg
                reg [WIDTH-1:0] rd_mq;
                always @(posedge clk) rd_mq <= muxed;
                assign rdata = rd_mq;
            end else begin : g_nomreg
                assign rdata = muxed;
            end
        end
    endgenerate
endmodule

`default_nettype wire
