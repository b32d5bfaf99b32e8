// Descriptor ring engine of the feature block: the queue manager and DMA
// master a PCIe card puts between its DMA shell and the DSP. It owns the
// ring registers (0x40..0x6C), fetches sample descriptors from a
// submission ring in host memory, reads their samples, feeds them to the
// feature core and writes the core's records, then a done entry, into a
// completion ring in host memory (phase bit per entry).
//
// Registers (byte address, 32 bits; writes to read-only or unmapped ring
// addresses count in RING_ERRORS):
//   0x40 SQ_BASE    RW  submission ring base (host word address)
//   0x44 SQ_SIZE    RW  entries, 2..65536; resets both rings' indices
//   0x48 SQ_TAIL    RW  producer index (the doorbell); >= SQ_SIZE: error
//   0x4C SQ_HEAD    RO  consumer index, advanced by the engine
//   0x50 CQ_BASE    RW  completion ring base (host word address)
//   0x54 CQ_SIZE    RW  entries, 2..65536; resets both rings' indices
//   0x58 CQ_TAIL    RO  engine's producer index; bit 31 its phase
//   0x5C CQ_HEAD    RW  host's consumer index; may only move over entries
//                       the engine wrote (else an error)
//   0x60 RING_ERRORS      RO  bad descriptors, sizes, indices, register writes
//   0x64 RING_DESCRIPTORS RO  descriptors completed
//   0x68 RING_STATUS RO bit0 a descriptor under way, bit1 stalled (waiting
//                       for completion room), bit2 DMA reads outstanding,
//                       bit3 descriptors pending (SQ_HEAD != SQ_TAIL)
//   0x6C HOST_WORDS RW  words of host memory the engine may reach (the
//                       window the driver granted, as an IOMMU would):
//                       every descriptor is checked against it first
// Base, size and window writes are refused (an error) while a descriptor
// is under way. A soft reset (CTRL bit 1) abandons the descriptor under
// way and resets the indices, the phase and the counters; bases, sizes and
// the window stay. A hardware reset clears everything.
//
// Host memory layout (32-bit words):
//   descriptor (4 words): channel id, sample count, word address of the
//     samples (two 16-bit samples a word, low half first), tag;
//   completion entry (24 words): flags (bit 0 phase, bit 1 done, bits
//     8..15 status), channel id, tag, records produced (done entries),
//     20 record words (record entries; a done entry leaves them as they
//     were). The flags word is written last, so an entry is whole once its
//     phase shows.
// Status: 0 ok, 1 bad channel (id >= CHAN_COUNT: nothing reaches the
// core), 2 overflow (more records than the completion ring could ever
// hold), 3 DMA error (descriptor or samples outside HOST_WORDS, or a read
// answered with an error), 4 backend (the core took no sample and gave no
// record for WATCHDOG cycles).
//
// Flow control: a descriptor starts only when the core is quiet (nothing
// in flight, no record waiting) and, once checked, only when the
// completion ring has room for every record it can produce plus its done
// entry: ceil(count / 40) + 1, tested as count <= 40 * (free - 1), so no
// divider. While it waits SQ_HEAD stays put (stalled). The engine owns
// the core's streams from fetch to done entry (`owns_core`); the top
// routes them to the block's own stream ports otherwise.
//
// DMA master (word addresses): 32-bit read requests (valid/ready) and
// in-order read answers (always accepted: at most RD_CREDITS reads in
// flight plus buffered words); posted writes of 4 words a beat (128 bits,
// word addr .. addr+3, low word first; valid/ready). A real shell packs
// these into PCIe TLPs on its own (wider) data path.
`default_nettype none

module rw_ring #(
    parameter integer RD_CREDITS = 8,
    parameter integer WATCHDOG   = 4096
) (
    input  wire         clk,
    input  wire         rst,
    input  wire         soft_reset,
    // register bus, ring addresses only (bus_we qualified by the top)
    input  wire [7:0]   bus_addr,
    input  wire [31:0]  bus_wdata,
    input  wire         bus_we,
    output reg  [31:0]  bus_rdata,
    // the core
    input  wire [16:0]  chan_count,
    input  wire         core_busy,
    input  wire         core_in_flight,
    output wire         owns_core,
    output wire         c_tvalid,
    input  wire         c_tready,
    output wire [15:0]  c_tdata,
    output wire [15:0]  c_tuser,
    input  wire         r_tvalid,
    output wire         r_tready,
    input  wire [639:0] r_tdata,
    input  wire [15:0]  r_tuser,
    // quiet: nothing to do, or stalled on completion room (and no read
    // in flight); what a driver waits for after a doorbell
    output wire         quiet,
    // DMA master
    output wire         dma_rd_valid,
    input  wire         dma_rd_ready,
    output wire [31:0]  dma_rd_addr,
    input  wire         dma_rd_resp_valid,
    input  wire [31:0]  dma_rd_resp_data,
    input  wire         dma_rd_resp_err,
    output wire         dma_wr_valid,
    input  wire         dma_wr_ready,
    output wire [31:0]  dma_wr_addr,
    output wire [127:0] dma_wr_data
);
    localparam [7:0] A_SQ_BASE = 8'h40, A_SQ_SIZE = 8'h44, A_SQ_TAIL = 8'h48,
                     A_SQ_HEAD = 8'h4C, A_CQ_BASE = 8'h50, A_CQ_SIZE = 8'h54,
                     A_CQ_TAIL = 8'h58, A_CQ_HEAD = 8'h5C, A_ERRORS = 8'h60,
                     A_DESCS = 8'h64, A_STATUS = 8'h68, A_HOST = 8'h6C;

    localparam [7:0] ST_OK = 8'd0, ST_BAD_CHANNEL = 8'd1, ST_OVERFLOW = 8'd2,
                     ST_DMA = 8'd3, ST_BACKEND = 8'd4;

    localparam [2:0] S_IDLE = 3'd0, S_FETCH = 3'd1, S_CHECK = 3'd2,
                     S_ROOM = 3'd3, S_STREAM = 3'd4, S_DONE = 3'd5;

    localparam integer CW = $clog2(RD_CREDITS + 1);
    localparam integer PW = (RD_CREDITS > 1) ? $clog2(RD_CREDITS) : 1;
    localparam integer WW = $clog2(WATCHDOG + 1);
    localparam [31:0]   CREDITS32 = RD_CREDITS;
    localparam [31:0]   WD32      = WATCHDOG - 1;
    localparam [CW:0]   CREDITS   = CREDITS32[CW:0];
    localparam [PW-1:0] LAST_SLOT = CREDITS32[PW-1:0] - 1'b1;
    localparam [WW-1:0] WD_LAST   = WD32[WW-1:0];

    // ------------------------------------------------------ ring registers
    reg [31:0] sq_base, cq_base, host_words;
    reg [16:0] sq_size, cq_size;
    reg [15:0] sq_tail, sq_head, cq_tail, cq_head;
    reg        phase;
    reg [31:0] ring_errors, descriptors;

    reg [2:0]    state;
    reg [CW-1:0] outstanding;       // reads requested, not yet answered

    // completion ring occupancy; indices are < size, so 17 bits suffice
    wire [16:0] cq_used = (cq_tail >= cq_head)
                        ? {1'b0, cq_tail} - {1'b0, cq_head}
                        : {1'b0, cq_tail} + cq_size - {1'b0, cq_head};
    wire [16:0] cq_free = cq_size - 17'd1 - cq_used;
    wire        pending = sq_head != sq_tail;
    wire        idle    = state == S_IDLE;
    wire        stalled;

    always @(*) begin
        case (bus_addr)
            A_SQ_BASE: bus_rdata = sq_base;
            A_SQ_SIZE: bus_rdata = {15'd0, sq_size};
            A_SQ_TAIL: bus_rdata = {16'd0, sq_tail};
            A_SQ_HEAD: bus_rdata = {16'd0, sq_head};
            A_CQ_BASE: bus_rdata = cq_base;
            A_CQ_SIZE: bus_rdata = {15'd0, cq_size};
            A_CQ_TAIL: bus_rdata = {phase, 15'd0, cq_tail};
            A_CQ_HEAD: bus_rdata = {16'd0, cq_head};
            A_ERRORS:  bus_rdata = ring_errors;
            A_DESCS:   bus_rdata = descriptors;
            A_STATUS:  bus_rdata = {28'd0, pending, outstanding != 0, stalled, !idle};
            A_HOST:    bus_rdata = host_words;
            default:   bus_rdata = 32'd0;
        endcase
    end

    // register writes: which are taken (the rest count as errors)
    wire        size_ok   = bus_wdata >= 32'd2 && bus_wdata <= 32'h10000;
    wire [16:0] head_step = (bus_wdata[15:0] >= cq_head)
                          ? {1'b0, bus_wdata[15:0]} - {1'b0, cq_head}
                          : {1'b0, bus_wdata[15:0]} + cq_size - {1'b0, cq_head};
    wire w_sq_base = bus_we && bus_addr == A_SQ_BASE && idle;
    wire w_cq_base = bus_we && bus_addr == A_CQ_BASE && idle;
    wire w_host    = bus_we && bus_addr == A_HOST && idle;
    wire w_sq_size = bus_we && bus_addr == A_SQ_SIZE && idle && size_ok;
    wire w_cq_size = bus_we && bus_addr == A_CQ_SIZE && idle && size_ok;
    wire w_sq_tail = bus_we && bus_addr == A_SQ_TAIL && bus_wdata < {15'd0, sq_size};
    wire w_cq_head = bus_we && bus_addr == A_CQ_HEAD
                  && bus_wdata < {15'd0, cq_size} && head_step <= cq_used;
    wire bus_error = bus_we && !(w_sq_base || w_cq_base || w_host || w_sq_size
                                 || w_cq_size || w_sq_tail || w_cq_head);
    // a size write (or a soft reset) starts both rings over
    wire restart   = soft_reset || w_sq_size || w_cq_size;

    // ---------------------------------------------------------- descriptor
    reg [31:0]   d_chan, d_count, d_addr, d_tag;
    reg          d_err;             // a descriptor read was answered with an error
    reg [7:0]    status;
    reg [1:0]    rx_idx;            // descriptor word arriving next
    reg [31:0]   rd_next;           // next read address
    reg [31:0]   rd_left;           // reads still to request
    reg [31:0]   s_left;            // samples still to push
    reg          s_half;            // next sample is the word's high half
    reg          abort;             // stop reading and pushing (an error)
    reg [15:0]   produced;
    reg [WW-1:0] wd;                // cycles the core has held up the stream

    // 40 * x as shifts and one add
    function automatic [22:0] times40(input [16:0] x);
        times40 = {1'b0, x, 5'd0} + {3'd0, x, 3'd0};
    endfunction
    wire [32:0] d_end   = {1'b0, sq_base} + {15'd0, sq_head, 2'd0} + 33'd4;
    wire [32:0] s_end   = {1'b0, d_addr} + {2'd0, d_count[31:1]} + {32'd0, d_count[0]};
    wire        room_ok = (cq_free != 17'd0)
                       && (status != ST_OK || d_count <= {9'd0, times40(cq_free - 17'd1)});
    assign stalled = state == S_ROOM && !room_ok;

    // ---------------------------------------------------------- DMA reads
    // in-order answers land in the descriptor registers (fetch) or the
    // sample word FIFO (stream); the credits bound both together
    reg [31:0]   fifo [0:RD_CREDITS-1];
    reg [PW-1:0] f_rd, f_wr;
    reg [CW-1:0] f_count;
    wire [CW:0]  credits_used = {1'b0, outstanding} + {1'b0, f_count};
    assign dma_rd_valid = (state == S_FETCH || state == S_STREAM) && !abort
                       && rd_left != 32'd0 && credits_used < CREDITS;
    assign dma_rd_addr  = rd_next;
    wire rd_fire     = dma_rd_valid && dma_rd_ready;
    wire resp_stream = dma_rd_resp_valid && state == S_STREAM && !abort && !dma_rd_resp_err;

    // ---------------------------------------------------------- samples
    assign c_tvalid = state == S_STREAM && !abort && f_count != 0 && s_left != 32'd0;
    assign c_tdata  = s_half ? fifo[f_rd][31:16] : fifo[f_rd][15:0];
    assign c_tuser  = d_chan[15:0];
    wire   c_fire   = c_tvalid && c_tready;
    wire   f_pop    = c_fire && (s_half || s_left == 32'd1);
    // the core, not the host, holds the stream up
    wire   core_stuck = !r_tvalid && ((c_tvalid && !c_tready)
                                      || (s_left == 32'd0 && core_in_flight));

    // ---------------------------------------------------------- completions
    // The writer sends one entry in beats of 4 words: a record entry words
    // 4..23 (the record) in 5 beats, then words 0..3; a done entry words
    // 0..3 alone. Words 0..3 (with the flags) always go last.
    reg         w_busy;
    reg         w_done;            // a done entry (else a record entry)
    reg  [2:0]  w_k;               // beat
    wire [2:0]  w_end   = w_done ? 3'd0 : 3'd5;  // the flags' beat
    wire [2:0]  w_grp   = (w_k == w_end) ? 3'd0 : w_k + 3'd1;  // words 4*w_grp..
    wire [31:0] cq_at   = cq_base + {12'd0, cq_tail, 4'd0} + {13'd0, cq_tail, 3'd0};
    wire [32:0] cq_end  = {1'b0, cq_at} + 33'd24;
    wire        w_inwin = cq_end <= {1'b0, host_words};
    wire [31:0] w_flags = {16'd0, w_done ? status : ST_OK, 6'd0, w_done, phase};
    wire [127:0] w_head = w_done ? {16'd0, produced, d_tag, d_chan, w_flags}
                                 : {32'd0, d_tag, 16'd0, r_tuser, w_flags};
    assign dma_wr_valid = w_busy && w_inwin;
    assign dma_wr_addr  = cq_at + {27'd0, w_grp, 2'd0};
    wire [2:0]  w_rgrp  = w_grp - 3'd1;            // record words 4*w_rgrp..
    wire [9:0]  w_off   = {w_rgrp, 7'd0};
    assign dma_wr_data  = (w_grp == 3'd0) ? w_head : r_tdata[w_off +: 128];
    // an entry outside the window is skipped (and counted) in one beat
    wire w_beat = w_busy && (!w_inwin || dma_wr_ready);
    wire w_last = w_beat && (!w_inwin || w_k == w_end);
    assign r_tready = w_last && !w_done;

    wire w_start_rec  = state == S_STREAM && !w_busy && r_tvalid;
    wire w_start_done = state == S_DONE && !w_busy;
    wire finished     = state == S_DONE && w_last;
    // all samples in (or given up), all reads answered, the core drained
    // (unless it is what failed) and the last record written
    wire stream_end   = state == S_STREAM && (s_left == 32'd0 || abort) && outstanding == 0
                     && !w_busy && (status == ST_BACKEND || (!core_in_flight && !r_tvalid));
    wire [1:0] new_errors = {1'b0, bus_error} + {1'b0, w_last && !w_inwin}
                          + {1'b0, finished && status != ST_OK};

    assign owns_core = !idle;
    assign quiet     = ((!pending && idle) || stalled) && outstanding == 0;

    always @(posedge clk) begin
        if (resp_stream) fifo[f_wr] <= dma_rd_resp_data;
    end

    always @(posedge clk) begin
        if (rst) begin
            sq_base     <= 32'd0;
            cq_base     <= 32'd0;
            host_words  <= 32'd0;
            sq_size     <= 17'd0;
            cq_size     <= 17'd0;
            sq_tail     <= 16'd0;
            sq_head     <= 16'd0;
            cq_tail     <= 16'd0;
            cq_head     <= 16'd0;
            phase       <= 1'b1;
            ring_errors <= 32'd0;
            descriptors <= 32'd0;
            state       <= S_IDLE;
            outstanding <= {CW{1'b0}};
            f_rd        <= {PW{1'b0}};
            f_wr        <= {PW{1'b0}};
            f_count     <= {CW{1'b0}};
            w_busy      <= 1'b0;
            abort       <= 1'b0;
        end else begin
            // reads in flight survive a restart: their answers are dropped,
            // and no fetch starts until all are in
            case ({rd_fire, dma_rd_resp_valid})
                2'b10:   outstanding <= outstanding + 1'b1;
                2'b01:   outstanding <= outstanding - 1'b1;
                default: ;
            endcase

            // ------------------------------------------------ registers
            if (w_sq_base) sq_base <= bus_wdata;
            if (w_cq_base) cq_base <= bus_wdata;
            if (w_host)    host_words <= bus_wdata;
            if (w_sq_size) sq_size <= bus_wdata[16:0];
            if (w_cq_size) cq_size <= bus_wdata[16:0];
            if (w_sq_tail) sq_tail <= bus_wdata[15:0];
            if (w_cq_head) cq_head <= bus_wdata[15:0];
            ring_errors <= ring_errors + {30'd0, new_errors};

            // ------------------------------------------------ engine
            case (state)
                S_IDLE: begin
                    if (pending && sq_size != 0 && cq_size != 0 && outstanding == 0
                        && !core_busy && !core_in_flight && !r_tvalid) begin
                        state   <= S_FETCH;
                        rd_next <= sq_base + {14'd0, sq_head, 2'd0};
                        rd_left <= 32'd4;
                        rx_idx  <= 2'd0;
                        d_err   <= 1'b0;
                    end
                end
                S_FETCH: begin
                    if (rd_fire) begin
                        rd_next <= rd_next + 32'd1;
                        rd_left <= rd_left - 32'd1;
                    end
                    if (dma_rd_resp_valid) begin
                        case (rx_idx)
                            2'd0:    d_chan  <= dma_rd_resp_data;
                            2'd1:    d_count <= dma_rd_resp_data;
                            2'd2:    d_addr  <= dma_rd_resp_data;
                            default: d_tag   <= dma_rd_resp_data;
                        endcase
                        if (dma_rd_resp_err) d_err <= 1'b1;
                        rx_idx <= rx_idx + 2'd1;
                        if (rx_idx == 2'd3) state <= S_CHECK;
                    end
                end
                S_CHECK: begin
                    // the order of the checks is the statuses' priority
                    if (d_err || d_end > {1'b0, host_words})
                        status <= ST_DMA;
                    else if (d_chan >= {15'd0, chan_count})
                        status <= ST_BAD_CHANNEL;
                    else if (d_count > {9'd0, times40(cq_size - 17'd2)})
                        status <= ST_OVERFLOW;
                    else if (s_end > {1'b0, host_words})
                        status <= ST_DMA;
                    else
                        status <= ST_OK;
                    state <= S_ROOM;
                end
                S_ROOM: begin
                    if (room_ok) begin
                        produced <= 16'd0;
                        if (status == ST_OK) begin
                            state   <= S_STREAM;
                            rd_next <= d_addr;
                            rd_left <= {1'b0, d_count[31:1]} + {31'd0, d_count[0]};
                            s_left  <= d_count;
                            s_half  <= 1'b0;
                            wd      <= {WW{1'b0}};
                        end else begin
                            state <= S_DONE;
                        end
                    end
                end
                S_STREAM: begin
                    if (rd_fire) begin
                        rd_next <= rd_next + 32'd1;
                        rd_left <= rd_left - 32'd1;
                    end
                    if (dma_rd_resp_valid && dma_rd_resp_err && !abort) begin
                        abort  <= 1'b1;
                        status <= ST_DMA;
                    end
                    if (c_fire) begin
                        s_left <= s_left - 32'd1;
                        s_half <= !s_half && s_left != 32'd1;
                    end
                    if (!core_stuck || abort) begin
                        wd <= {WW{1'b0}};
                    end else if (wd == WD_LAST) begin
                        abort  <= 1'b1;
                        status <= ST_BACKEND;
                    end else begin
                        wd <= wd + 1'b1;
                    end
                    if (w_last && !w_done) produced <= produced + 16'd1;
                    if (stream_end) state <= S_DONE;
                end
                S_DONE: begin
                    if (finished) begin
                        state       <= S_IDLE;
                        descriptors <= descriptors + 32'd1;
                        sq_head     <= ({1'b0, sq_head} + 17'd1 == sq_size) ? 16'd0
                                                                            : sq_head + 16'd1;
                        abort       <= 1'b0;
                    end
                end
                default: state <= S_IDLE;
            endcase

            // ------------------------------------------------ word FIFO
            if (abort || state != S_STREAM) begin
                f_rd    <= {PW{1'b0}};
                f_wr    <= {PW{1'b0}};
                f_count <= {CW{1'b0}};
            end else begin
                if (resp_stream) f_wr <= (f_wr == LAST_SLOT) ? {PW{1'b0}} : f_wr + 1'b1;
                if (f_pop)       f_rd <= (f_rd == LAST_SLOT) ? {PW{1'b0}} : f_rd + 1'b1;
                case ({resp_stream, f_pop})
                    2'b10:   f_count <= f_count + 1'b1;
                    2'b01:   f_count <= f_count - 1'b1;
                    default: ;
                endcase
            end

            // ------------------------------------------------ writer
            if (w_busy) begin
                if (w_beat) w_k <= w_k + 3'd1;
                if (w_last) begin
                    w_busy <= 1'b0;
                    if ({1'b0, cq_tail} + 17'd1 == cq_size) begin
                        cq_tail <= 16'd0;
                        phase   <= !phase;
                    end else begin
                        cq_tail <= cq_tail + 16'd1;
                    end
                end
            end else if (w_start_rec || w_start_done) begin
                w_busy <= 1'b1;
                w_done <= !w_start_rec;
                w_k    <= 3'd0;
            end

            // ------------------------------------------------ restart
            if (restart) begin
                sq_tail     <= 16'd0;
                sq_head     <= 16'd0;
                cq_tail     <= 16'd0;
                cq_head     <= 16'd0;
                phase       <= 1'b1;
                ring_errors <= 32'd0;
                descriptors <= 32'd0;
                state       <= S_IDLE;
                w_busy      <= 1'b0;
                abort       <= 1'b0;
            end
        end
    end
endmodule

`default_nettype wire
