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
// Throughput: one sample per clock, any mix of channels. Two stages:
//   A: accept a sample (or a clear operation) and read its channel's state
//      from two block RAMs (synchronous read): ctl = {pos, x[n-1], x[n-2]}
//      (32 bits) and acc = {zc, lag2, lag1, energy, 16 DFT sums}
//      (614 bits).
//   B: the state (forwarded from the previous cycle's write when it is the
//      same channel), 19 parallel multiply-accumulates, the write back, and
//      at a block's 40th sample a record into the output FIFO.
// The sums are not cleared: position 0 starts them from zero, so a clear
// only writes ctl.
//
// Input stream (AXI-Stream style): s_tdata = 16-bit sample, s_tuser =
// channel id. A sample for a channel >= chan_count, or while not enabled,
// is accepted and dropped (counted in `drops`).
// Output stream: m_tdata = 20 words of 32 bits, word i at [32i+31:32i]:
// re0, im0, re1, im1, ..., re7, im7, energy, lag1, lag2, zc (the layout of
// the Rust FeatureBlock); m_tuser = channel id. A 2-deep FIFO holds
// records; s_tready falls only when it could overflow.
//
// Clears (clr_valid, from a CHAN_CLEAR write) run through the pipeline
// ahead of the next sample. Reset (rst or soft_reset) clears every
// channel in a sweep of 2^CH_BITS cycles (`busy`), without samples.
`default_nettype none

module rw_feature_core #(
    parameter integer CH_BITS = 8
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

    // ---------------------------------------------------------------- A
    reg               sweeping;
    reg [CH_BITS-1:0] sweep_idx;
    reg               clr_pend;
    reg [CH_BITS-1:0] clr_idx;

    // output FIFO occupancy, and the stage-B operation
    reg  [1:0] out_count;
    reg        b_valid;
    wire       out_pop = m_tvalid && m_tready;
    // Room for a record from the op in B and one from the op accepted now.
    wire       room = ({1'b0, out_count} - {2'b0, out_pop} + {2'b0, b_valid}) < 3'd2;

    assign busy      = sweeping;
    assign in_flight = b_valid || clr_pend;
    assign s_tready = !sweeping && !clr_pend && room;

    wire accept   = s_tvalid && s_tready;
    wire in_range = {1'b0, s_tuser} < chan_count && {1'b0, s_tuser} < NCH;
    wire take     = accept && enable && in_range;

    wire               a_clear = sweeping || clr_pend;
    wire               a_valid = a_clear || take;
    wire [CH_BITS-1:0] a_ch    = sweeping ? sweep_idx
                               : clr_pend ? clr_idx : s_tuser[CH_BITS-1:0];

    // ---------------------------------------------------------------- B
    reg               b_clear;
    reg [CH_BITS-1:0] b_ch;
    reg [12:0]        b_x;
    reg [15:0]        b_tuser;

    // the last write, forwarded to a read of the same channel next cycle
    reg               f_valid;
    reg [CH_BITS-1:0] f_ch;
    reg [CTL_W-1:0]   f_ctl;
    reg [ACC_W-1:0]   f_acc;

    wire [CTL_W-1:0] ctl_rd;
    wire [ACC_W-1:0] acc_rd;
    wire             ctl_we;
    wire             acc_we;
    wire [CTL_W-1:0] ctl_new;
    wire [ACC_W-1:0] acc_new;

    rw_ram_1r1w #(.WIDTH(CTL_W), .ABITS(CH_BITS)) u_ctl (
        .clk(clk), .raddr(a_ch), .rdata(ctl_rd),
        .we(ctl_we), .waddr(b_ch), .wdata(ctl_new)
    );
    rw_ram_1r1w #(.WIDTH(ACC_W), .ABITS(CH_BITS)) u_acc (
        .clk(clk), .raddr(a_ch), .rdata(acc_rd),
        .we(acc_we), .waddr(b_ch), .wdata(acc_new)
    );

    wire             fwd = f_valid && (f_ch == b_ch);
    wire [CTL_W-1:0] ctl = fwd ? f_ctl : ctl_rd;
    wire [ACC_W-1:0] acc = fwd ? f_acc : acc_rd;

    wire [5:0]  pos   = ctl[31:26];
    wire [12:0] h1    = ctl[25:13];
    wire [12:0] h2    = ctl[12:0];
    wire        first = (pos == 6'd0);
    wire        last  = (pos == LAST_POS);
    wire [12:0] x     = b_x;

    wire [31:0] xe  = {{19{x[12]}}, x};
    wire [31:0] h1e = {{19{h1[12]}}, h1};
    wire [31:0] h2e = {{19{h2[12]}}, h2};

    wire [255:0] tw;
    rw_twiddle_rom u_rom (
        .addr(pos),
        .tw  (tw)
    );

    // 16 parallel multiply-accumulates: lane 2k = re of bin k, 2k+1 = im.
    wire [511:0] dft_new;
    genvar i;
    generate
        for (i = 0; i < 16; i = i + 1) begin : g_mac
            wire [31:0] te   = {{16{tw[16*i+15]}}, tw[16*i +: 16]};
            wire [31:0] prod = $signed(xe) * $signed(te);
            wire [31:0] old  = first ? 32'd0 : acc[32*i +: 32];
            assign dft_new[32*i +: 32] = old + prod;
        end
    endgenerate

    wire [31:0] sq         = $signed(xe) * $signed(xe);
    wire [31:0] p1         = $signed(xe) * $signed(h1e);
    wire [31:0] p2         = $signed(xe) * $signed(h2e);
    wire [31:0] energy_new = (first ? 32'd0 : acc[543:512]) + sq;
    wire [31:0] lag1_new   = (first ? 32'd0 : acc[575:544]) + p1;
    wire [31:0] lag2_new   = (first ? 32'd0 : acc[607:576]) + p2;
    wire        crossing   = !first && (x[12] != h1[12]);
    wire [5:0]  zc_new     = (first ? 6'd0 : acc[613:608]) + {5'd0, crossing};

    assign ctl_we  = b_valid;
    assign acc_we  = b_valid && !b_clear;
    assign ctl_new = b_clear ? {CTL_W{1'b0}} : {last ? 6'd0 : pos + 6'd1, x, h1};
    assign acc_new = {zc_new, lag2_new, lag1_new, energy_new, dft_new};

    wire emit = b_valid && !b_clear && last;

    // ---------------------------------------------------------- output
    reg [639:0] q_data [0:1];
    reg [15:0]  q_user [0:1];
    reg         q_rd;
    reg         q_wr;

    assign m_tvalid = (out_count != 2'd0);
    assign m_tdata  = q_data[q_rd];
    assign m_tuser  = q_user[q_rd];

    always @(posedge clk) begin
        if (emit) begin
            q_data[q_wr] <= {26'd0, acc_new};
            q_user[q_wr] <= b_tuser;
        end
    end

    always @(posedge clk) begin
        if (rst || soft_reset) begin
            sweeping    <= 1'b1;
            sweep_idx   <= {CH_BITS{1'b0}};
            clr_pend    <= 1'b0;
            b_valid     <= 1'b0;
            f_valid     <= 1'b0;
            out_count   <= 2'd0;
            q_rd        <= 1'b0;
            q_wr        <= 1'b0;
            samples_in  <= 32'd0;
            records_out <= 32'd0;
            drops       <= 32'd0;
        end else begin
            // A
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
            b_valid <= a_valid;
            b_clear <= a_clear;
            b_ch    <= a_ch;
            b_x     <= s_tdata[15:3];
            b_tuser <= s_tuser;
            // B
            f_valid <= b_valid;
            f_ch    <= b_ch;
            f_ctl   <= ctl_new;
            f_acc   <= acc_new;
            if (emit) begin
                q_wr        <= ~q_wr;
                records_out <= records_out + 32'd1;
            end
            if (out_pop) q_rd <= ~q_rd;
            out_count <= out_count + {1'b0, emit} - {1'b0, out_pop};
        end
    end

    wire unused_ok = &{1'b0, s_tdata[2:0]};
endmodule

`default_nettype wire
