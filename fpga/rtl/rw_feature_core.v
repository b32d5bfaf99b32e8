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
// Throughput: one sample per clock. Each accepted sample reads its
// channel's state (position, 16 DFT sums, energy, lags, zero crossings,
// last two samples) from per-channel arrays, updates all 19 sums in
// parallel (19 multipliers) and writes the state back in the same cycle.
// The 40th sample of a block loads the output record register.
//
// Input stream (AXI-Stream style): s_tdata = 16-bit sample, s_tuser =
// channel id. A sample for a channel >= chan_count, or while not enabled,
// is accepted and dropped (counted in `drops`).
// Output stream: m_tdata = 20 words of 32 bits, word i at [32i+31:32i]:
// re0, im0, re1, im1, ..., re7, im7, energy, lag1, lag2, zc (the layout of
// the Rust FeatureBlock); m_tuser = channel id.
//
// Reset (rst or soft_reset) clears every channel's state in a sweep of
// 2^CH_BITS cycles (`busy`), during which no sample is accepted.
`default_nettype none

module rw_feature_core #(
    parameter integer CH_BITS = 8
) (
    input  wire         clk,
    input  wire         rst,
    input  wire         soft_reset,
    input  wire         enable,
    input  wire [15:0]  chan_count,
    input  wire         clr_valid,
    input  wire [15:0]  clr_chan,
    input  wire         s_tvalid,
    output wire         s_tready,
    input  wire [15:0]  s_tdata,
    input  wire [15:0]  s_tuser,
    output reg          m_tvalid,
    input  wire         m_tready,
    output reg  [639:0] m_tdata,
    output reg  [15:0]  m_tuser,
    output wire         busy,
    output reg  [31:0]  samples_in,
    output reg  [31:0]  records_out,
    output reg  [31:0]  drops
);
    localparam integer NCH = 1 << CH_BITS;
    localparam [5:0] LAST_POS = 6'd39;

    // Per-channel state.
    reg [5:0]   pos_mem    [0:NCH-1];
    reg [511:0] dft_mem    [0:NCH-1];
    reg [31:0]  energy_mem [0:NCH-1];
    reg [31:0]  lag1_mem   [0:NCH-1];
    reg [31:0]  lag2_mem   [0:NCH-1];
    reg [5:0]   zc_mem     [0:NCH-1];
    reg [12:0]  h1_mem     [0:NCH-1]; // x[n-1]
    reg [12:0]  h2_mem     [0:NCH-1]; // x[n-2]

    reg               sweeping;
    reg [CH_BITS-1:0] sweep_idx;

    assign busy     = sweeping;
    assign s_tready = !sweeping && (!m_tvalid || m_tready);

    wire accept   = s_tvalid && s_tready;
    wire in_range = s_tuser < chan_count;
    wire take     = accept && enable && in_range;

    wire [CH_BITS-1:0] ch = s_tuser[CH_BITS-1:0];

    // x = s >>> 3: the top 13 bits.
    wire [12:0] x = s_tdata[15:3];
    wire unused_low = &{1'b0, s_tdata[2:0]};

    wire [5:0]  pos   = pos_mem[ch];
    wire        first = (pos == 6'd0);
    wire        last  = (pos == LAST_POS);
    wire [12:0] h1    = h1_mem[ch];
    wire [12:0] h2    = h2_mem[ch];

    wire [31:0] xe  = {{19{x[12]}}, x};
    wire [31:0] h1e = {{19{h1[12]}}, h1};
    wire [31:0] h2e = {{19{h2[12]}}, h2};

    wire [255:0] tw;
    rw_twiddle_rom u_rom (
        .addr(pos),
        .tw  (tw)
    );

    // 16 parallel multiply-accumulates: lane 2k = re of bin k, 2k+1 = im.
    wire [511:0] dft_old = dft_mem[ch];
    wire [511:0] dft_new;
    genvar i;
    generate
        for (i = 0; i < 16; i = i + 1) begin : g_mac
            wire [31:0] te   = {{16{tw[16*i+15]}}, tw[16*i +: 16]};
            wire [31:0] prod = $signed(xe) * $signed(te);
            wire [31:0] acc  = first ? 32'd0 : dft_old[32*i +: 32];
            assign dft_new[32*i +: 32] = acc + prod;
        end
    endgenerate

    wire [31:0] sq   = $signed(xe) * $signed(xe);
    wire [31:0] p1   = $signed(xe) * $signed(h1e);
    wire [31:0] p2   = $signed(xe) * $signed(h2e);
    wire [31:0] energy_new = (first ? 32'd0 : energy_mem[ch]) + sq;
    wire [31:0] lag1_new   = (first ? 32'd0 : lag1_mem[ch]) + p1;
    wire [31:0] lag2_new   = (first ? 32'd0 : lag2_mem[ch]) + p2;
    wire        crossing   = !first && (x[12] != h1[12]);
    wire [5:0]  zc_new     = (first ? 6'd0 : zc_mem[ch]) + {5'd0, crossing};

    wire [CH_BITS-1:0] clr_idx = clr_chan[CH_BITS-1:0];
    wire               clr_ok  = clr_valid && (clr_chan < NCH[15:0]);

    always @(posedge clk) begin
        if (rst || soft_reset) begin
            sweeping    <= 1'b1;
            sweep_idx   <= {CH_BITS{1'b0}};
            m_tvalid    <= 1'b0;
            samples_in  <= 32'd0;
            records_out <= 32'd0;
            drops       <= 32'd0;
        end else begin
            if (m_tvalid && m_tready) m_tvalid <= 1'b0;
            if (sweeping) begin
                pos_mem[sweep_idx] <= 6'd0;
                h1_mem[sweep_idx]  <= 13'd0;
                h2_mem[sweep_idx]  <= 13'd0;
                sweep_idx          <= sweep_idx + 1'b1;
                if (sweep_idx == {CH_BITS{1'b1}}) sweeping <= 1'b0;
            end else begin
                if (accept) begin
                    samples_in <= samples_in + 32'd1;
                    if (!take) drops <= drops + 32'd1;
                end
                if (take) begin
                    pos_mem[ch]    <= last ? 6'd0 : pos + 6'd1;
                    dft_mem[ch]    <= dft_new;
                    energy_mem[ch] <= energy_new;
                    lag1_mem[ch]   <= lag1_new;
                    lag2_mem[ch]   <= lag2_new;
                    zc_mem[ch]     <= zc_new;
                    h1_mem[ch]     <= x;
                    h2_mem[ch]     <= h1;
                    if (last) begin
                        m_tvalid    <= 1'b1;
                        m_tdata     <= {26'd0, zc_new, lag2_new, lag1_new, energy_new, dft_new};
                        m_tuser     <= s_tuser;
                        records_out <= records_out + 32'd1;
                    end
                end
                // A clear wins over a sample of the same channel.
                if (clr_ok) begin
                    pos_mem[clr_idx] <= 6'd0;
                    h1_mem[clr_idx]  <= 13'd0;
                    h2_mem[clr_idx]  <= 13'd0;
                end
            end
        end
    end
endmodule

`default_nettype wire
