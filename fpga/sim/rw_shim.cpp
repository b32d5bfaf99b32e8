// C ABI around the Verilated feature block (rw_feature_top), for the Rust
// driver (src/sim.rs). One VerilatedContext per handle; Rust never sees a
// Verilated type. Included into the model's single translation unit by
// build.rs.
//
// Clocking: each step sets clk low, evaluates (inputs settle), samples the
// stream handshakes (valid && ready), then raises clk (the RTL's posedge).
// Records leaving the block are queued here until drained.
//
// Host memory: the word buffer the Rust side owns (attach_host), reached
// by the block's DMA master port as a PCIe shell would: read requests
// answered in order `latency` cycles later (an error answer outside the
// buffer), posted writes of 4 words applied in the cycle they are
// accepted (words outside it dropped and counted). With a stall seed, the shell's ready signals
// follow a pseudo-random pattern (back-pressure on both directions).
//
// build.rs includes this file once per Verilated model: RWF_TOP names the
// model's class (its --prefix), RWF_TOP_H its header and RWF_FN(name) the
// C symbol of each entry point (rwf_name for the default model), so two
// models link into one binary.
#ifndef RWF_TOP
#define RWF_TOP Vrw_feature_top
#define RWF_TOP_H "Vrw_feature_top.h"
#define RWF_FN(name) rwf_##name
#endif
#include RWF_TOP_H
#include "verilated.h"

#include <cstdint>
#include <cstring>
#include <deque>
#include <memory>

namespace {

constexpr int kWords = 20;

struct Record {
    uint32_t channel;
    uint32_t words[kWords];
};

struct Read {
    uint64_t due;
    uint32_t addr;
};

struct Dma {
    uint32_t* mem = nullptr;
    size_t len = 0;
    uint32_t latency = 2;
    uint32_t lfsr = 0;  // 0: always ready
    std::deque<Read> reads;
    uint64_t faults = 0;  // reads and writes outside the buffer
};

struct Sim {
    std::unique_ptr<VerilatedContext> ctx;
    std::unique_ptr<RWF_TOP> top;
    uint64_t cycles = 0;
    std::deque<Record> records;
    Dma dma;
};

// What happened in one clock cycle.
constexpr int kInFire = 1;    // the input stream took a sample
constexpr int kDmaBeat = 2;   // a DMA request, answer or write went through

// Result codes (mirrored in src/sim.rs).
constexpr int kOk = 0;
constexpr int kTimeout = -1;
constexpr int kStopped = -2;

bool alive(const Sim* s) { return !s->ctx->gotFinish() && !s->ctx->gotError(); }

// Drives the DMA port's inputs for the coming clock edge.
bool drive_dma(Sim* s) {
    RWF_TOP* t = s->top.get();
    Dma& d = s->dma;
    t->dma_rd_resp_valid = 0;
    t->dma_rd_resp_err = 0;
    t->dma_rd_resp_data = 0;
    bool beat = false;
    if (!d.reads.empty() && d.reads.front().due <= s->cycles) {
        const uint32_t a = d.reads.front().addr;
        d.reads.pop_front();
        t->dma_rd_resp_valid = 1;
        if (a < d.len) {
            t->dma_rd_resp_data = d.mem[a];
        } else {
            t->dma_rd_resp_err = 1;
            d.faults++;
        }
        beat = true;
    }
    if (d.lfsr != 0) {
        // xorshift32: about one cycle in four not ready, per direction
        d.lfsr ^= d.lfsr << 13;
        d.lfsr ^= d.lfsr >> 17;
        d.lfsr ^= d.lfsr << 5;
        t->dma_rd_ready = (d.lfsr & 3u) != 0;
        t->dma_wr_ready = (d.lfsr & 12u) != 0;
    } else {
        t->dma_rd_ready = 1;
        t->dma_wr_ready = 1;
    }
    return beat;
}

// Takes the DMA port's requests of this cycle (inputs settled).
bool take_dma(Sim* s) {
    RWF_TOP* t = s->top.get();
    Dma& d = s->dma;
    bool beat = false;
    if (t->dma_rd_valid && t->dma_rd_ready) {
        d.reads.push_back(Read{s->cycles + d.latency, t->dma_rd_addr});
        beat = true;
    }
    if (t->dma_wr_valid && t->dma_wr_ready) {
        // 4 words a beat, low word first
        for (uint32_t i = 0; i < 4; i++) {
            const uint64_t a = static_cast<uint64_t>(t->dma_wr_addr) + i;
            if (a < d.len) {
                d.mem[a] = t->dma_wr_data[i];
            } else {
                d.faults++;
            }
        }
        beat = true;
    }
    return beat;
}

// One clock cycle; returns what fired (kInFire, kDmaBeat).
int step_events(Sim* s) {
    RWF_TOP* t = s->top.get();
    bool beat = drive_dma(s);
    t->clk = 0;
    t->eval();
    const bool in_fire = t->s_tvalid && t->s_tready;
    beat = take_dma(s) || beat;
    if (t->m_tvalid && t->m_tready) {
        Record r;
        r.channel = t->m_tuser;
        for (int i = 0; i < kWords; i++) r.words[i] = t->m_tdata[i];
        s->records.push_back(r);
    }
    t->clk = 1;
    t->eval();
    s->ctx->timeInc(1);
    s->cycles++;
    return (in_fire ? kInFire : 0) | (beat ? kDmaBeat : 0);
}

// One clock cycle; returns whether the input stream fired.
bool step(Sim* s) { return (step_events(s) & kInFire) != 0; }

uint32_t read_reg(Sim* s, uint32_t addr) {
    RWF_TOP* t = s->top.get();
    t->bus_we = 0;
    t->bus_addr = addr & 0xff;
    t->clk = 0;
    t->eval();
    return t->bus_rdata;
}

// Pushes samples 0..n, `set(i)` putting sample i on the input stream, each
// waiting at most `max_wait` cycles for s_tready. *pushed: how many were
// accepted.
template <typename Set>
int push_each(Sim* s, size_t n, uint64_t max_wait, size_t* pushed, Set set) {
    RWF_TOP* t = s->top.get();
    *pushed = 0;
    for (size_t i = 0; i < n; i++) {
        set(t, i);
        t->s_tvalid = 1;
        bool fired = false;
        for (uint64_t c = 0; c < max_wait && !fired; c++) {
            if (!alive(s)) {
                t->s_tvalid = 0;
                return kStopped;
            }
            fired = step(s);
        }
        if (!fired) {
            t->s_tvalid = 0;
            return kTimeout;
        }
        *pushed = i + 1;
    }
    t->s_tvalid = 0;
    return alive(s) ? kOk : kStopped;
}

}  // namespace

extern "C" {

// A fresh block, held in reset. `rand_seed` 0: registers start at 0;
// otherwise at random values from that seed (with --x-initial unique,
// which build.rs passes), to catch state the reset fails to clear.
void* RWF_FN(create)(uint32_t rand_seed) {
    auto* s = new Sim;
    s->ctx = std::make_unique<VerilatedContext>();
    s->ctx->fatalOnError(false);
    if (rand_seed != 0) {
        s->ctx->randReset(2);
        s->ctx->randSeed(static_cast<int>(rand_seed & 0x7fffffff));
    }
    s->top = std::make_unique<RWF_TOP>(s->ctx.get(), "TOP");
    RWF_TOP* t = s->top.get();
    t->clk = 0;
    t->rst = 1;
    t->bus_we = 0;
    t->bus_addr = 0;
    t->bus_wdata = 0;
    t->s_tvalid = 0;
    t->s_tdata = 0;
    t->s_tuser = 0;
    t->m_tready = 1;
    t->dma_rd_ready = 1;
    t->dma_wr_ready = 1;
    t->dma_rd_resp_valid = 0;
    t->dma_rd_resp_err = 0;
    t->dma_rd_resp_data = 0;
    t->eval();
    return s;
}

void RWF_FN(free)(void* h) {
    auto* s = static_cast<Sim*>(h);
    if (s == nullptr) return;
    s->top->final();
    delete s;
}

// Pulses the hardware reset and waits (at most max_cycles) for the
// channel-state sweep to finish. Drops queued records.
int RWF_FN(reset)(void* h, uint64_t max_cycles) {
    auto* s = static_cast<Sim*>(h);
    RWF_TOP* t = s->top.get();
    t->s_tvalid = 0;
    t->bus_we = 0;
    t->rst = 1;
    s->dma.reads.clear();
    step(s);
    step(s);
    s->dma.reads.clear();
    t->rst = 0;
    s->records.clear();
    for (uint64_t c = 0; c < max_cycles; c++) {
        if (!alive(s)) return kStopped;
        if ((read_reg(s, 0x0C) & 0xAu) == 0) return kOk;  // not busy, nothing in flight
        step(s);
    }
    return kTimeout;
}

uint32_t RWF_FN(reg_read)(void* h, uint32_t addr) { return read_reg(static_cast<Sim*>(h), addr); }

// One bus write (one clock cycle).
int RWF_FN(reg_write)(void* h, uint32_t addr, uint32_t value) {
    auto* s = static_cast<Sim*>(h);
    RWF_TOP* t = s->top.get();
    t->bus_addr = addr & 0xff;
    t->bus_wdata = value;
    t->bus_we = 1;
    step(s);
    t->bus_we = 0;
    return alive(s) ? kOk : kStopped;
}

// Runs `n` idle clock cycles.
int RWF_FN(run)(void* h, uint64_t n) {
    auto* s = static_cast<Sim*>(h);
    for (uint64_t c = 0; c < n && alive(s); c++) step(s);
    return alive(s) ? kOk : kStopped;
}

// Output back-pressure: m_tready.
void RWF_FN(set_out_ready)(void* h, int ready) { static_cast<Sim*>(h)->top->m_tready = ready ? 1 : 0; }

// Pushes `n` samples of one channel, each waiting at most `max_wait`
// cycles for s_tready. *pushed: how many were accepted.
int RWF_FN(push_samples)(void* h, uint32_t channel, const int16_t* samples, size_t n,
                     uint64_t max_wait, size_t* pushed) {
    return push_each(static_cast<Sim*>(h), n, max_wait, pushed, [&](RWF_TOP* t, size_t i) {
        t->s_tuser = channel & 0xffff;
        t->s_tdata = static_cast<uint16_t>(samples[i]);
    });
}

// Pushes n samples, each tagged with its own channel (any interleaving,
// one per clock when the block is ready); as rwf_push_samples otherwise.
int RWF_FN(push_tagged)(void* h, const uint32_t* channels, const int16_t* samples, size_t n,
                    uint64_t max_wait, size_t* pushed) {
    return push_each(static_cast<Sim*>(h), n, max_wait, pushed, [&](RWF_TOP* t, size_t i) {
        t->s_tuser = channels[i] & 0xffff;
        t->s_tdata = static_cast<uint16_t>(samples[i]);
    });
}

// Clocks (at most max_cycles) until the pipeline is empty and no record
// waits on the output stream.
int RWF_FN(flush)(void* h, uint64_t max_cycles) {
    auto* s = static_cast<Sim*>(h);
    RWF_TOP* t = s->top.get();
    t->s_tvalid = 0;
    for (uint64_t c = 0; c < max_cycles; c++) {
        if (!alive(s)) return kStopped;
        t->clk = 0;
        t->eval();
        if (!t->m_tvalid && (read_reg(s, 0x0C) & 8u) == 0) return kOk;
        step(s);
    }
    return kTimeout;
}

// Moves at most `max` queued records out: channel ids to `channels`, 20
// words each to `words`. Returns how many.
size_t RWF_FN(drain_records)(void* h, uint32_t* channels, uint32_t* words, size_t max) {
    auto* s = static_cast<Sim*>(h);
    size_t n = 0;
    while (n < max && !s->records.empty()) {
        const Record& r = s->records.front();
        channels[n] = r.channel;
        std::memcpy(words + n * kWords, r.words, sizeof r.words);
        s->records.pop_front();
        n++;
    }
    return n;
}

// Host memory for the DMA port: `len` words at `mem` (null, 0: none),
// which must stay valid until attached again or the handle is freed.
void RWF_FN(attach_host)(void* h, uint32_t* mem, size_t len) {
    auto* s = static_cast<Sim*>(h);
    s->dma.mem = mem;
    s->dma.len = mem == nullptr ? 0 : len;
}

// The host's read latency in cycles (at least 1) and its ready pattern
// (seed 0: always ready).
void RWF_FN(set_dma)(void* h, uint32_t latency, uint32_t stall_seed) {
    auto* s = static_cast<Sim*>(h);
    s->dma.latency = latency < 1 ? 1 : latency;
    s->dma.lfsr = stall_seed;
}

// DMA reads and writes outside host memory so far.
uint64_t RWF_FN(dma_faults)(void* h) { return static_cast<Sim*>(h)->dma.faults; }

// Clocks until the ring engine is quiet (nothing to do, or stalled on
// completion room, and no read in flight). Times out after `max_idle`
// cycles in a row without a DMA beat.
int RWF_FN(ring_run)(void* h, uint64_t max_idle) {
    auto* s = static_cast<Sim*>(h);
    RWF_TOP* t = s->top.get();
    uint64_t idle = 0;
    for (;;) {
        if (!alive(s)) return kStopped;
        // the outputs of the last evaluation are the registers' (every
        // call ends on an evaluated model)
        if (t->ring_quiet && s->dma.reads.empty()) return kOk;
        if (step_events(s) & kDmaBeat) {
            idle = 0;
        } else if (++idle > max_idle) {
            return kTimeout;
        }
    }
}

size_t RWF_FN(pending_records)(void* h) { return static_cast<Sim*>(h)->records.size(); }

uint64_t RWF_FN(cycles)(void* h) { return static_cast<Sim*>(h)->cycles; }

}  // extern "C"
