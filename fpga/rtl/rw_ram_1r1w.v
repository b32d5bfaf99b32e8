// Simple dual-port RAM: one synchronous read port (read-first: a read and
// a write of the same address in one cycle return the old word) and one
// write port; the shape FPGA block RAM (and UltraRAM) implements.
// OREG = 1 adds the output register (block RAM's DO_REG, UltraRAM's
// OREG): read latency 2 (address at cycle t, data during cycle t + 2)
// instead of 1, and the RAM's clock-to-out leaves the critical path.
`default_nettype none

module rw_ram_1r1w #(
    parameter integer WIDTH = 32,
    parameter integer ABITS = 8,
    parameter integer OREG  = 0
) (
    input  wire             clk,
    input  wire [ABITS-1:0] raddr,
    output wire [WIDTH-1:0] rdata,
    input  wire             we,
    input  wire [ABITS-1:0] waddr,
    input  wire [WIDTH-1:0] wdata
);
    reg [WIDTH-1:0] mem [0:(1<<ABITS)-1];
    reg [WIDTH-1:0] rd_q;

    always @(posedge clk) begin
        if (we) mem[waddr] <= wdata;
        rd_q <= mem[raddr];
    end

    generate
        if (OREG != 0) begin : g_oreg
            reg [WIDTH-1:0] rd_oq;
            always @(posedge clk) rd_oq <= rd_q;
            assign rdata = rd_oq;
        end else begin : g_noreg
            assign rdata = rd_q;
        end
    endgenerate
endmodule

`default_nettype wire
