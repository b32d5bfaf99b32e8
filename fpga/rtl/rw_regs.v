// Register block of the feature block: a simple AXI-Lite-like bus
// (byte address, write data, write enable; read data combinational from
// the address, reads have no side effects). Map (32-bit registers):
//   0x00 ID          RO  0x52574642 ("RWFB")
//   0x04 VERSION     RO  0x00030000 (major.minor; 3.0: the descriptor
//                        ring engine in RTL, rw_ring.v; 2.0: the 7-stage
//                        pipeline, 8-record output FIFO, ACC_RD_LAT)
//   0x08 CTRL        RW  bit0 enable; bit1 soft reset (write 1: clears all
//                        channel state, the pending record and the
//                        counters; reads 0)
//   0x0C STATUS      RO  bit0 enabled, bit1 busy (reset sweep),
//                        bit2 record pending on the output stream,
//                        bit3 an operation in the pipeline
//   0x10 CHAN_COUNT  RW  channels in use; samples for ids >= it are dropped
//                        (reset: the capacity; a larger write is an error
//                        and is clamped)
//   0x14 CAPACITY    RO  channel slots (2^CH_BITS)
//   0x18 BLOCK_LEN   RO  40
//   0x1C BINS        RO  8
//   0x20 CHAN_CLEAR  WO  write a channel id: clears its state (position,
//                        history); an id >= capacity is an error
//   0x24 SAMPLES     RO  samples accepted
//   0x28 RECORDS     RO  records emitted
//   0x2C DROPS       RO  samples dropped (bad channel id, or not enabled)
//   0x30 ERRORS      RO  bus errors: writes to read-only or unmapped
//                        addresses, bad CHAN_COUNT or CHAN_CLEAR values
//   0x34 ACC_RD_LAT  RO  the accumulator RAM's read latency (2 or 3): a
//                        near-repeat of a channel within ACC_RD_LAT + 1
//                        samples waits at most ACC_RD_LAT cycles
// Unmapped addresses read 0. The top routes 0x40 and up to the ring
// engine (rw_ring.v); this block sees only 0x00..0x3F.
`default_nettype none

module rw_regs #(
    parameter integer CH_BITS = 8,
    parameter integer RD_LAT  = 2
) (
    input  wire        clk,
    input  wire        rst,
    input  wire [7:0]  bus_addr,
    input  wire [31:0] bus_wdata,
    input  wire        bus_we,
    output reg  [31:0] bus_rdata,
    output reg         enable,
    output wire        soft_reset,
    output reg  [16:0] chan_count,
    output wire        clr_valid,
    output wire [15:0] clr_chan,
    input  wire        busy,
    input  wire        rec_pending,
    input  wire        in_flight,
    input  wire [31:0] samples_in,
    input  wire [31:0] records_out,
    input  wire [31:0] drops
);
    localparam [31:0] ID       = 32'h52574642;
    localparam [31:0] VERSION  = 32'h00030000;
    localparam [31:0] CAPACITY = 32'd1 << CH_BITS;

    localparam [7:0] A_ID = 8'h00, A_VERSION = 8'h04, A_CTRL = 8'h08,
                     A_STATUS = 8'h0C, A_CHAN_COUNT = 8'h10,
                     A_CAPACITY = 8'h14, A_BLOCK_LEN = 8'h18, A_BINS = 8'h1C,
                     A_CHAN_CLEAR = 8'h20, A_SAMPLES = 8'h24,
                     A_RECORDS = 8'h28, A_DROPS = 8'h2C, A_ERRORS = 8'h30,
                     A_ACC_RD_LAT = 8'h34;

    reg [31:0] errors;

    // Command pulses act in the cycle of their bus write.
    assign soft_reset = bus_we && (bus_addr == A_CTRL) && bus_wdata[1];
    assign clr_valid  = bus_we && (bus_addr == A_CHAN_CLEAR) && (bus_wdata < CAPACITY);
    assign clr_chan   = bus_wdata[15:0];

    always @(*) begin
        case (bus_addr)
            A_ID:         bus_rdata = ID;
            A_VERSION:    bus_rdata = VERSION;
            A_CTRL:       bus_rdata = {31'd0, enable};
            A_STATUS:     bus_rdata = {28'd0, in_flight, rec_pending, busy, enable};
            A_CHAN_COUNT: bus_rdata = {15'd0, chan_count};
            A_CAPACITY:   bus_rdata = CAPACITY;
            A_BLOCK_LEN:  bus_rdata = 32'd40;
            A_BINS:       bus_rdata = 32'd8;
            A_SAMPLES:    bus_rdata = samples_in;
            A_RECORDS:    bus_rdata = records_out;
            A_DROPS:      bus_rdata = drops;
            A_ERRORS:     bus_rdata = errors;
            A_ACC_RD_LAT: bus_rdata = RD_LAT;
            default:      bus_rdata = 32'd0;
        endcase
    end

    always @(posedge clk) begin
        if (rst) begin
            enable     <= 1'b0;
            chan_count <= CAPACITY[16:0];
            errors     <= 32'd0;
        end else begin
            if (soft_reset) errors <= 32'd0;
            if (bus_we) begin
                case (bus_addr)
                    A_CTRL: enable <= bus_wdata[0];
                    A_CHAN_COUNT: begin
                        if (bus_wdata > CAPACITY) begin
                            chan_count <= CAPACITY[16:0];
                            errors     <= errors + 32'd1;
                        end else begin
                            chan_count <= bus_wdata[16:0];
                        end
                    end
                    A_CHAN_CLEAR: begin
                        if (bus_wdata >= CAPACITY) errors <= errors + 32'd1;
                    end
                    default: errors <= errors + 32'd1;
                endcase
            end
        end
    end
endmodule

`default_nettype wire
