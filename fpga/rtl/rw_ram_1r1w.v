// Simple dual-port RAM: one synchronous read port (read-first: a read and
// a write of the same address in one cycle return the old word) and one
// write port; the shape FPGA block RAM (and UltraRAM) implements.
`default_nettype none

module rw_ram_1r1w #(
    parameter integer WIDTH = 32,
    parameter integer ABITS = 8
) (
    input  wire             clk,
    input  wire [ABITS-1:0] raddr,
    output reg  [WIDTH-1:0] rdata,
    input  wire             we,
    input  wire [ABITS-1:0] waddr,
    input  wire [WIDTH-1:0] wdata
);
    reg [WIDTH-1:0] mem [0:(1<<ABITS)-1];

    always @(posedge clk) begin
        if (we) mem[waddr] <= wdata;
        rdata <= mem[raddr];
    end
endmodule

`default_nettype wire
