// ringwire feature core: the arithmetic contract of
// ringwire_dsp::features (dsp/src/features/mod.rs), bit-exact.
//
// Per channel, blocks of 40 samples of x = s >>> 3 (13-bit). Per block:
//   dft[k] = sum x[n] * (cos_k[n], -sin_k[n])   (Q13 twiddles, rw_twiddle_rom)
//   energy = sum x[n]^2
//   lag1   = sum x[n] x[n-1],  lag2 = sum x[n] x[n-2]
//            (x[-1], x[-2]: the channel's previous block's last samples,
//             0 after a clear)
//   zc     = #{n in 1..39 : (x[n] < 0) != (x[n-1] < 0)}
// All sums wrap in 32-bit two's complement (the contract's bounds mean
// none overflows). Every product is formed exactly (29 bits at most)
// before the 32-bit add, so the order of additions cannot matter.
//
// Pipeline (one operation a clock: a sample, or a channel clear), laid
// out for a 4 ns clock: every block-RAM read is registered (OREG: read
// latency 2; the acc RAM's RD_LAT, below, may be 3), the multipliers have registered inputs (AREG/BREG) and a
// product register (MREG), and the only per-channel loop left in the
// accumulators is acc + product (a DSP's P register: PREG).
//   S0  accept; read ctl = {pos, x[n-1], x[n-2]} (32 bits) at the channel.
//   S1  (ctl RAM latency)
//   S2  ctl arrives (RAM output register), forwarded from the two ops
//       ahead when they are the same channel (the RAM has not seen their
//       writes yet; the match bits are computed a stage earlier); next
//       ctl written back: the ctl loop is a 6-bit increment, a compare
//       and a 3:1 mux in one cycle.
//   S3  twiddle ROM at pos, registered (with x, x[n-1], x[n-2]: the
//       multipliers' A/B registers); read acc = {zc, lag2, lag1, energy,
//       16 DFT sums} (614 bits) at the channel (RD_LAT = 3: in S2
//       instead, so that the word still arrives in S5).
//   S4  19 products x * {tw 0..15, x, x[n-1], x[n-2]} into M registers.
//   S5  acc arrives (RAM output register); P <= Z + M with Z = 0 (first
//       sample of a block), P (the op one cycle ahead was the same
//       channel: the common case) or the RAM word.
//   S6  P written back to acc; at a block's 40th sample a record into the
//       output FIFO.
// The sums are not cleared: position 0 starts them from zero, so a clear
// only writes ctl.
//
// RD_LAT (2 or 3) is the acc RAM's read latency. The default is 3 when
// CH_BITS > 12: beyond 4,096 slots the 614-bit words span several block
// RAMs deep (7-series RAMB36 is at most 4K deep at 9 bits wide), so the
// RAM is built as 2^(CH_BITS-12) banks of 4,096 with a multiplexer
// between them, and that multiplexer gets its own register stage
// (rw_ram_1r1w OREG = 2: each bank's DO_REG, the mux, a register). At
// CH_BITS <= 12 one bank, RD_LAT = 2. RD_LAT may be set explicitly (the
// simulation checks RD_LAT = 3 at CH_BITS = 15 too); the register ACC_RD_LAT
// (rw_regs.v) reports it. The stage count, the latency to the output
// and the FIFO accounting do not depend on it: the read moves one stage
// earlier (S2), and the data arrives in S5 either way.
//
// Hazard: the acc read (S3, or S2 for RD_LAT = 3) sees writes made (S6)
// at least RD_LAT + 2 cycles ahead; one cycle ahead comes from P. A
// sample whose channel had a sample 2..RD_LAT+1 cycles ahead but not 1
// cycle ahead waits at the input: RD_LAT = 2: A, B, A (2 cycles) or
// A, B, C, A (1); RD_LAT = 3: A, B, A (3), A, B, C, A (2) or
// A, B, C, D, A (1). At most RD_LAT cycles, only for such near-repeats.
// Any order in which a channel, once left, does not come back within
// RD_LAT + 1 samples (packets of one channel: the driver's order) runs at
// exactly one sample per clock.
//
// Input stream (AXI-Stream style): s_tdata = 16-bit sample, s_tuser =
// channel id. A sample for a channel >= chan_count, or while not enabled,
// is accepted and dropped (counted in `drops`).
// Output stream: m_tdata = 20 words of 32 bits, word i at [32i+31:32i]:
// re0, im0, re1, im1, ..., re7, im7, energy, lag1, lag2, zc (the layout of
// the Rust FeatureBlock); m_tuser = channel id. An 8-record FIFO holds
// records; s_tready falls only when it could overflow, counting every
// sample in S1-S2 (position not known yet) and every block-ending sample
// in S3-S6 as a record to come. With m_tready held high it never falls
// for this reason (at most 6 in flight + 1 queued + 1 new).
//
// Clears (clr_valid, from a CHAN_CLEAR write) run through the pipeline
// ahead of the next sample. Reset (rst or soft_reset) clears every
// channel in a sweep of 2^CH_BITS cycles (`busy`), without samples.
`default_nettype none

module rw_feature_core #(
    parameter integer CH_BITS = 8,
    parameter integer RD_LAT  = (CH_BITS > 12) ? 3 : 2
) (
    input  wire         clk,
    input  wire         rst,
    input  wire         soft_reset,
    input  wire         enable,
    input  wire [16:0]  chan_count,
    input  wire         clr_valid,
    input  wire [15:0]  clr_chan,
    input  wire         s_tvalid,
    output wire         s_tready,
    input  wire [15:0]  s_tdata,
    input  wire [15:0]  s_tuser,
    output wire         m_tvalid,
    input  wire         m_tready,
    output wire [639:0] m_tdata,
    output wire [15:0]  m_tuser,
    output wire         busy,
    output wire         in_flight,
    output reg  [31:0]  samples_in,
    output reg  [31:0]  records_out,
    output reg  [31:0]  drops
);
    localparam [5:0]  LAST_POS = 6'd39;
    localparam [16:0] NCH      = 17'd1 << CH_BITS;
    localparam integer CTL_W   = 32;
    localparam integer ACC_W   = 614;
    localparam integer LANES   = 19;
    localparam [3:0]  QDEPTH   = 4'd8;
    // acc RAM banks of 4,096 words (RD_LAT = 3 registers their mux)
    localparam integer ACC_BANK_BITS = (CH_BITS > 12) ? CH_BITS - 12 : 0;

    // ----------------------------------------------------- stage valids
    // sN_v: an operation in stage N; sN_clr: it is a clear (else a sample)
    reg s1_v, s2_v, s3_v, s4_v, s5_v, s6_v;
    reg s1_clr, s2_clr, s3_clr, s4_clr, s5_clr, s6_clr;
    wire s1_s = s1_v && !s1_clr;
    wire s2_s = s2_v && !s2_clr;
    wire s3_s = s3_v && !s3_clr;
    wire s4_s = s4_v && !s4_clr;
    wire s5_s = s5_v && !s5_clr;
    wire s6_s = s6_v && !s6_clr;

    reg [CH_BITS-1:0] s1_ch, s2_ch, s3_ch, s4_ch, s5_ch, s6_ch;
    reg [12:0]        s1_x, s2_x, s3_x, s4_x;
    reg [15:0]        s1_user, s2_user, s3_user, s4_user, s5_user, s6_user;
    reg               s3_first, s4_first, s5_first;
    reg               s3_last, s4_last, s5_last, s6_last;

    // ---------------------------------------------------------------- S0
    reg               sweeping;
    reg [CH_BITS-1:0] sweep_idx;
    reg               clr_pend;
    reg [CH_BITS-1:0] clr_idx;
    reg [3:0]         out_count;

    // records that may still come: S1-S2 samples (position unknown) and
    // block-ending samples in S3-S6
    wire [2:0] to_come = {2'd0, s1_s} + {2'd0, s2_s}
                       + {2'd0, s3_s && s3_last} + {2'd0, s4_s && s4_last}
                       + {2'd0, s5_s && s5_last} + {2'd0, s6_s && s6_last};
    wire room = (out_count + {1'b0, to_come}) < QDEPTH;

    wire in_range = {1'b0, s_tuser} < chan_count && {1'b0, s_tuser} < NCH;
    wire [CH_BITS-1:0] in_ch = s_tuser[CH_BITS-1:0];
    // near-repeat: the acc word of this channel is still being written
    wire near1 = s1_s && s1_ch == in_ch;
    wire near2 = s2_s && s2_ch == in_ch;
    wire near3 = s3_s && s3_ch == in_ch;
    // RD_LAT = 3: the acc read is a cycle earlier, the window a cycle wider
    wire near4 = (RD_LAT >= 3) && s4_s && s4_ch == in_ch;
    wire hazard = enable && in_range && !near1 && (near2 || near3 || near4);

    assign busy      = sweeping;
    assign in_flight = s1_v || s2_v || s3_v || s4_v || s5_v || s6_v || clr_pend;
    assign s_tready  = !sweeping && !clr_pend && room && !hazard;

    wire accept = s_tvalid && s_tready;
    wire take   = accept && enable && in_range;

    wire               a_clear = sweeping || clr_pend;
    wire               a_valid = a_clear || take;
    wire [CH_BITS-1:0] a_ch    = sweeping ? sweep_idx
                               : clr_pend ? clr_idx : in_ch;

    // ---------------------------------------------------------------- S2
    wire [CTL_W-1:0] ctl_rd;
    wire [CTL_W-1:0] ctl_new;

    rw_ram_1r1w #(.WIDTH(CTL_W), .ABITS(CH_BITS), .OREG(1)) u_ctl (
        .clk(clk), .raddr(a_ch), .rdata(ctl_rd),
        .we(s2_v), .waddr(s2_ch), .wdata(ctl_new)
    );

    // the ctl writes of the two ops ahead (made after this op's read)
    reg               f1_v;
    reg [CH_BITS-1:0] f1_ch;
    reg [CTL_W-1:0]   f1_ctl, f2_ctl;
    reg               s2_hit1, s2_hit2;

    wire [CTL_W-1:0] ctl = s2_hit1 ? f1_ctl : s2_hit2 ? f2_ctl : ctl_rd;
    wire [5:0]  pos   = ctl[31:26];
    wire [12:0] h1    = ctl[25:13];
    wire [12:0] h2    = ctl[12:0];
    wire        first = (pos == 6'd0);
    wire        last  = (pos == LAST_POS);
    assign ctl_new = s2_clr ? {CTL_W{1'b0}} : {last ? 6'd0 : pos + 6'd1, s2_x, h1};

    reg [5:0]  s3_pos;
    reg [12:0] s3_h1, s3_h2;

    // ---------------------------------------------------------------- S3
    wire [255:0] tw;
    rw_twiddle_rom u_rom (
        .addr(s3_pos),
        .tw  (tw)
    );
    wire s3_cross = !s3_first && (s3_x[12] != s3_h1[12]);

    // the multipliers' second operands: lane 2k = re of bin k, 2k+1 = im,
    // 16 = x (energy), 17 = x[n-1] (lag1), 18 = x[n-2] (lag2)
    wire [16*LANES-1:0] b_next = {{{3{s3_h2[12]}}, s3_h2},
                                  {{3{s3_h1[12]}}, s3_h1},
                                  {{3{s3_x[12]}}, s3_x}, tw};
    reg  [16*LANES-1:0] s4_b;
    reg                 s4_cross, s5_cross;
    reg                 s5_fwd;

    // ---------------------------------------------------------- S4 - S6
    wire [ACC_W-1:0] acc_rd;
    reg  [32*LANES-1:0] p;
    reg  [5:0]          p_zc;

    // read in S3 (RD_LAT = 2) or S2 (RD_LAT = 3): the word arrives in S5
    wire [CH_BITS-1:0] acc_raddr = (RD_LAT >= 3) ? s2_ch : s3_ch;
    rw_ram_1r1w #(
        .WIDTH(ACC_W), .ABITS(CH_BITS), .OREG(RD_LAT - 1),
        .BANK_BITS(ACC_BANK_BITS)
    ) u_acc (
        .clk(clk), .raddr(acc_raddr), .rdata(acc_rd),
        .we(s6_s), .waddr(s6_ch), .wdata({p_zc, p})
    );

    // Each M register holds its product at its exact width (13 x 16 = 29
    // bits for the twiddles, 13 x 13 = 26 for x, x[n-1], x[n-2]), so Yosys
    // sees the add's operand as the DSP's sign-extended output and packs
    // the add and the P register into the DSP48.
    genvar i;
    generate
        for (i = 0; i < LANES; i = i + 1) begin : g_mac
            localparam integer BW = (i < 16) ? 16 : 13;
            localparam integer MW = 13 + BW;
            wire [MW-1:0] xe = {{BW{s4_x[12]}}, s4_x};
            wire [MW-1:0] be = {{13{s4_b[16*i+BW-1]}}, s4_b[16*i +: BW]};
            reg  [MW-1:0] m;
            wire [31:0]   z  = s5_first ? 32'd0
                             : s5_fwd ? p[32*i +: 32] : acc_rd[32*i +: 32];
            always @(posedge clk) begin
                m <= $signed(xe) * $signed(be);                              // M
                if (s5_s) p[32*i +: 32] <= z + {{(32-MW){m[MW-1]}}, m};     // P
            end
            if (BW < 16) begin : g_narrow
                // lanes 16-18 carry 13-bit operands sign-extended to 16
                wire unused_hi = &{1'b0, s4_b[16*i+BW +: 16-BW]};
            end
        end
    endgenerate

    wire [5:0] zc_z = s5_first ? 6'd0 : s5_fwd ? p_zc : acc_rd[613:608];
    always @(posedge clk) begin
        if (s5_s) p_zc <= zc_z + {5'd0, s5_cross};
    end

    wire emit = s6_s && s6_last;

    // ---------------------------------------------------------- output
    reg [639:0] q_data [0:7];
    reg [15:0]  q_user [0:7];
    reg [2:0]   q_rd;
    reg [2:0]   q_wr;

    assign m_tvalid = (out_count != 4'd0);
    assign m_tdata  = q_data[q_rd];
    assign m_tuser  = q_user[q_rd];
    wire   out_pop  = m_tvalid && m_tready;

    always @(posedge clk) begin
        if (emit) begin
            q_data[q_wr] <= {26'd0, p_zc, p};
            q_user[q_wr] <= s6_user;
        end
    end

    // datapath registers (no reset: only the valid bits need one)
    always @(posedge clk) begin
        s1_clr  <= a_clear;
        s1_ch   <= a_ch;
        s1_x    <= s_tdata[15:3];
        s1_user <= s_tuser;
        s2_clr  <= s1_clr;
        s2_ch   <= s1_ch;
        s2_x    <= s1_x;
        s2_user <= s1_user;
        s2_hit1 <= s2_v && s2_ch == s1_ch;
        s2_hit2 <= f1_v && f1_ch == s1_ch;
        f1_ch   <= s2_ch;
        f1_ctl  <= ctl_new;
        f2_ctl  <= f1_ctl;
        s3_clr   <= s2_clr;
        s3_ch    <= s2_ch;
        s3_x     <= s2_x;
        s3_user  <= s2_user;
        s3_first <= first;
        s3_last  <= last;
        s3_pos   <= pos;
        s3_h1    <= h1;
        s3_h2    <= h2;
        s4_clr   <= s3_clr;
        s4_ch    <= s3_ch;
        s4_x     <= s3_x;
        s4_user  <= s3_user;
        s4_first <= s3_first;
        s4_last  <= s3_last;
        s4_cross <= s3_cross;
        s4_b     <= b_next;
        s5_clr   <= s4_clr;
        s5_ch    <= s4_ch;
        s5_user  <= s4_user;
        s5_first <= s4_first;
        s5_last  <= s4_last;
        s5_cross <= s4_cross;
        s5_fwd   <= s5_s && s5_ch == s4_ch;
        s6_clr   <= s5_clr;
        s6_ch    <= s5_ch;
        s6_user  <= s5_user;
        s6_last  <= s5_last;
    end

    always @(posedge clk) begin
        if (rst || soft_reset) begin
            sweeping    <= 1'b1;
            sweep_idx   <= {CH_BITS{1'b0}};
            clr_pend    <= 1'b0;
            s1_v        <= 1'b0;
            s2_v        <= 1'b0;
            s3_v        <= 1'b0;
            s4_v        <= 1'b0;
            s5_v        <= 1'b0;
            s6_v        <= 1'b0;
            f1_v        <= 1'b0;
            out_count   <= 4'd0;
            q_rd        <= 3'd0;
            q_wr        <= 3'd0;
            samples_in  <= 32'd0;
            records_out <= 32'd0;
            drops       <= 32'd0;
        end else begin
            if (sweeping) begin
                sweep_idx <= sweep_idx + 1'b1;
                if (sweep_idx == {CH_BITS{1'b1}}) sweeping <= 1'b0;
            end
            if (clr_valid && !sweeping && {1'b0, clr_chan} < NCH) begin
                clr_pend <= 1'b1;
                clr_idx  <= clr_chan[CH_BITS-1:0];
            end else if (!sweeping) begin
                clr_pend <= 1'b0;
            end
            if (accept) begin
                samples_in <= samples_in + 32'd1;
                if (!take) drops <= drops + 32'd1;
            end
            s1_v <= a_valid;
            s2_v <= s1_v;
            s3_v <= s2_v;
            s4_v <= s3_v;
            s5_v <= s4_v;
            s6_v <= s5_v;
            f1_v <= s2_v;
            if (emit) begin
                q_wr        <= q_wr + 3'd1;
                records_out <= records_out + 32'd1;
            end
            if (out_pop) q_rd <= q_rd + 3'd1;
            out_count <= out_count + {3'd0, emit} - {3'd0, out_pop};
        end
    end

    wire unused_ok = &{1'b0, s_tdata[2:0]};
endmodule

`default_nettype wire
