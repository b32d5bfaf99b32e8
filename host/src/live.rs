//! Detectors on live call legs: a [`DetectorTap`] per relay worker.
//!
//! Each shard worker of the media driver gets one [`LiveTap`] (installed
//! with [`Command::InstallTap`](ringwire_media::relay::Command::InstallTap)
//! and attached to legs with `SetTap`). The tap owns one feature engine
//! for the worker's thread ([`SoftwareEngine`], or the simulated FPGA
//! block: [`DspBackend`]) and one engine channel per leg; it decodes
//! G.711 payloads (PT 0 and 8) through the engine, fills RTP timestamp
//! gaps with silence (at most [`MAX_GAP_FILL`] samples per gap), feeds the
//! leg's [`CallDetectors`] (in-band DTMF, AMD, beep), and tracks RFC 4733
//! telephone events of the leg's `telephone-event` payload type with an
//! [`EventTracker`]. What they find leaves the worker as [`LiveEvent`]s
//! through a bounded channel (full: counted and dropped, the worker never
//! blocks).
//!
//! The control side configures legs through [`LiveControl`], one unbounded
//! channel per shard that the tap drains when packets arrive: a leg's
//! [`TapControl::Leg`] is sent before its `SetTap` command, so the tap
//! knows the leg before its first packet.
//!
//! Allocation: once a leg is configured (engine channel opened, detectors
//! built) a packet allocates nothing: feature blocks and found events go
//! into vectors the tap reuses, and events are plain values on a bounded
//! channel.
//!
//! Media time is samples fed to the detectors (RTP timestamp units at
//! 8 kHz) from the leg's first packet, gaps included (filled up to
//! [`MAX_GAP_FILL`], counted beyond it); a packet up to 100 sequence
//! numbers behind the last (RFC 3550's `MAX_MISORDER`) is late and
//! dropped; a new SSRC, a jump in the sequence numbers, or a sender clock
//! that goes back or leaps more than an hour goes on from the media time
//! reached. Wall time is the Unix time (ms) at which the event was found.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{SystemTime, UNIX_EPOCH};

use ringwire_dsp::amd::AmdConfig;
use ringwire_dsp::beep::BeepConfig;
use ringwire_dsp::features::{ChannelId, FeatureBlock, FeatureEngine, SoftwareEngine, SAMPLE_RATE};
use ringwire_dsp::g711::Law;
use ringwire_media::capture::stream::MAX_GAP_SAMPLES;
use ringwire_media::relay::{CallId, DetectorTap, LegId, TapId, TapPacket};
use ringwire_media::rfc4733::{EventTracker, TelephoneEvent};

use crate::analyze::{
    AnalyzeOptions, BackendError, CallDetectors, Detector, DigitSource, DspBackend, Event,
};

/// The tap slot live detectors use in every shard's core.
pub const LIVE_TAP: TapId = TapId(0);

/// Largest RTP timestamp gap (samples) filled with silence; a larger gap
/// (a long hold) fills this much and counts the rest as skipped.
pub const MAX_GAP_FILL: u32 = 2 * SAMPLE_RATE;

/// Largest RTP timestamp step (samples) that is a gap in the audio, as in
/// captures ([`MAX_GAP_SAMPLES`]: an hour); the clock of a packet further
/// ahead, or behind, of the next one expected was reset, and media time
/// runs on without it.
const MAX_GAP_SPAN: i32 = MAX_GAP_SAMPLES as i32;

/// Packets a late packet may be behind the last one fed (RFC 3550's
/// `MAX_MISORDER`); a sequence number further behind is a jump (a restarted
/// sender), and what follows it is fed.
const MAX_MISORDER: i16 = 100;

/// Capacity of the event channel out of the workers.
pub const EVENT_CAPACITY: usize = 4096;

/// Which detectors run on a leg.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DetectorSet {
    /// In-band DTMF and RFC 4733 telephone events.
    pub dtmf: bool,
    /// Answering-machine detection (one verdict per leg).
    pub amd: bool,
    /// Voicemail beeps.
    pub beep: bool,
}

impl DetectorSet {
    /// Whether any detector is on.
    pub fn any(self) -> bool {
        self.dtmf || self.amd || self.beep
    }

    /// Whether a detector reads the audio (not only telephone events).
    fn in_audio(self) -> bool {
        self.any()
    }

    /// Fresh detectors of this set with these parameters; none when no
    /// detector of it reads the audio.
    fn detectors(self, amd: &AmdConfig, beep: &BeepConfig) -> Option<CallDetectors> {
        self.in_audio()
            .then(|| CallDetectors::new(&self.options(amd, beep)))
    }

    fn options(self, amd: &AmdConfig, beep: &BeepConfig) -> AnalyzeOptions {
        let mut d = Vec::new();
        if self.dtmf {
            d.push(Detector::Dtmf);
        }
        if self.amd {
            d.push(Detector::Amd);
        }
        if self.beep {
            d.push(Detector::Beep);
        }
        AnalyzeOptions {
            amd: amd.clone(),
            beep: beep.clone(),
            ..AnalyzeOptions::with_detectors(&d)
        }
    }

    /// This set changed by NG flags: `detect-dtmf`, `detect-amd`,
    /// `detect-beep` switch one on, `no-detect-dtmf` (etc.) off, and
    /// `no-detect` all off.
    pub fn with_flags<'a>(mut self, flags: impl IntoIterator<Item = &'a str>) -> Self {
        for f in flags {
            let f = f.trim().to_ascii_lowercase().replace(['_', ' '], "-");
            match f.as_str() {
                "detect-dtmf" => self.dtmf = true,
                "detect-amd" => self.amd = true,
                "detect-beep" => self.beep = true,
                "no-detect-dtmf" => self.dtmf = false,
                "no-detect-amd" => self.amd = false,
                "no-detect-beep" => self.beep = false,
                "no-detect" | "no-detectors" => self = DetectorSet::default(),
                _ => {}
            }
        }
        self
    }
}

/// A leg's configuration, from the control side to the tap.
#[derive(Debug, Clone)]
pub enum TapControl {
    /// Sets up (or reconfigures) a leg.
    Leg {
        /// Its call.
        call: CallId,
        /// The leg.
        leg: LegId,
        /// Detectors to run.
        detectors: DetectorSet,
        /// Its RFC 4733 payload type (rtpmap `telephone-event/8000`).
        telephone_event: Option<u8>,
    },
    /// Ends every leg of a call: pending digits and verdicts come out.
    Forget {
        /// The call.
        call: CallId,
    },
    /// New AMD and beep parameters for the legs configured from now on
    /// (a config reload); legs under way keep theirs.
    Tuning {
        /// AMD parameters.
        amd: Box<AmdConfig>,
        /// Beep detection parameters.
        beep: Box<BeepConfig>,
    },
}

/// Something a detector found on a live leg.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveEvent {
    /// The call.
    pub call: CallId,
    /// The leg whose incoming media it was found in.
    pub leg: LegId,
    /// Media time of the event, ms from the leg's first packet.
    pub media_ms: u64,
    /// Wall-clock time when it was found, Unix ms.
    pub wall_ms: u64,
    /// What was found (its times are media times too).
    pub event: Event,
}

impl LiveEvent {
    /// `dtmf`, `amd` or `beep`.
    pub fn kind(&self) -> &'static str {
        match self.event {
            Event::Dtmf { .. } => "dtmf",
            Event::Amd { .. } => "amd",
            Event::Beep { .. } => "beep",
        }
    }
}

/// Counters the taps share with the control side.
#[derive(Debug, Default)]
pub struct TapCounters {
    /// Events dropped because the event channel was full.
    pub dropped: AtomicU64,
    /// Packets of configured legs that fed a detector.
    pub packets: AtomicU64,
}

/// One leg's detector state.
struct LegState {
    call: CallId,
    set: DetectorSet,
    telephone_event: Option<u8>,
    channel: Option<ChannelId>,
    detectors: Option<CallDetectors>,
    tracker: Option<EventTracker>,
    /// RTP timestamp that media time 0 corresponds to.
    base_ts: Option<u32>,
    ssrc: u32,
    /// Timestamp the next audio packet should carry.
    next_ts: Option<u32>,
    /// Sequence number of the last audio packet fed: a packet up to
    /// [`MAX_MISORDER`] behind it is late, one ahead of it with a timestamp
    /// behind is a clock reset.
    last_seq: Option<u16>,
    /// Samples fed to the engine (media time).
    fed: u64,
    /// Samples skipped beyond the gap bound.
    skipped: u64,
    /// Samples fed before the detectors were made: their clock starts
    /// there (not 0 when a re-offer changed them mid-call).
    detectors_from: u64,
}

impl LegState {
    /// Makes RTP timestamp `ts` the media time reached so far, with no gap
    /// expected before it (a new source, or a reset clock): media time runs
    /// on from where it is.
    fn rebase(&mut self, ts: u32) {
        let now = self.fed + self.skipped;
        self.base_ts = Some(ts.wrapping_sub(now as u32));
        self.next_ts = None;
    }
}

/// The detector tap of one relay worker (see the [module documentation](self)).
pub struct LiveTap {
    control: mpsc::Receiver<TapControl>,
    /// Each leg's state, boxed: it is some kilobytes of detector state
    /// (6.7 KB). Inline, every bucket of the table would be that large:
    /// growing the table would move every leg's state, a stall of
    /// milliseconds on the worker at thousands of legs, and its empty
    /// buckets would hold tens of megabytes.
    legs: HashMap<LegId, Box<LegState>>,
    /// Each call's legs, so that forgetting a call visits only them.
    calls: HashMap<CallId, Vec<LegId>>,
    feed: Feed,
    packets: u64,
    /// AMD parameters of the legs configured from now on.
    amd: AmdConfig,
    /// Beep detection parameters of the legs configured from now on.
    beep: BeepConfig,
}

/// What a tap feeds legs' audio through and sends their events into,
/// apart from the legs themselves so that a leg and it can be borrowed
/// at once.
struct Feed {
    engine: Box<dyn FeatureEngine + Send>,
    events: mpsc::SyncSender<LiveEvent>,
    counters: Arc<TapCounters>,
    blocks: Vec<FeatureBlock>,
    found: Vec<Event>,
}

const ZEROS: [i16; 160] = [0; 160];

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl LiveTap {
    /// A tap taking leg configuration from `control` and sending events
    /// into `events`, on a [`SoftwareEngine`].
    pub fn new(
        control: mpsc::Receiver<TapControl>,
        events: mpsc::SyncSender<LiveEvent>,
        counters: Arc<TapCounters>,
    ) -> Self {
        Self::with_engine(control, events, counters, Box::new(SoftwareEngine::new()))
    }

    /// The same on any feature engine (one channel per configured leg;
    /// legs beyond its capacity run without in-audio detectors, logged).
    pub fn with_engine(
        control: mpsc::Receiver<TapControl>,
        events: mpsc::SyncSender<LiveEvent>,
        counters: Arc<TapCounters>,
        engine: Box<dyn FeatureEngine + Send>,
    ) -> Self {
        LiveTap {
            control,
            legs: HashMap::new(),
            calls: HashMap::new(),
            feed: Feed {
                engine,
                events,
                counters,
                blocks: Vec::with_capacity(64),
                found: Vec::with_capacity(8),
            },
            packets: 0,
            amd: AmdConfig::default(),
            beep: BeepConfig::default(),
        }
    }

    /// Sets the AMD parameters (maximum analysis time, bias) of the legs
    /// configured from now on.
    pub fn set_amd_config(&mut self, amd: AmdConfig) {
        self.amd = amd;
    }

    /// Sets the beep detection parameters of the legs configured from now
    /// on.
    pub fn set_beep_config(&mut self, beep: BeepConfig) {
        self.beep = beep;
    }

    /// Legs it holds state for.
    pub fn leg_count(&self) -> usize {
        self.legs.len()
    }

    /// Applies queued leg configuration (done on every packet; call it
    /// directly in tests).
    pub fn drain_control(&mut self) {
        while let Ok(c) = self.control.try_recv() {
            match c {
                TapControl::Leg {
                    call,
                    leg,
                    detectors,
                    telephone_event,
                } => self.configure(call, leg, detectors, telephone_event),
                TapControl::Forget { call } => self.forget(call),
                TapControl::Tuning { amd, beep } => {
                    self.amd = *amd;
                    self.beep = *beep;
                }
            }
        }
    }

    fn configure(&mut self, call: CallId, leg: LegId, set: DetectorSet, te: Option<u8>) {
        if let Some(st) = self.legs.get_mut(&leg) {
            st.telephone_event = te;
            if st.set != set {
                st.set = set;
                st.detectors = set.detectors(&self.amd, &self.beep);
                st.detectors_from = st.fed;
                st.tracker = set.dtmf.then(EventTracker::new);
                // new detectors on a leg whose engine channel went back
                // when the old ones were done
                if st.channel.is_none() && st.detectors.is_some() {
                    st.channel = self.feed.open_channel(call, leg);
                }
            }
            return;
        }
        let channel = self.feed.open_channel(call, leg);
        self.legs.insert(
            leg,
            Box::new(LegState {
                call,
                set,
                telephone_event: te,
                channel,
                detectors: set.detectors(&self.amd, &self.beep),
                tracker: set.dtmf.then(EventTracker::new),
                base_ts: None,
                ssrc: 0,
                next_ts: None,
                last_seq: None,
                fed: 0,
                skipped: 0,
                detectors_from: 0,
            }),
        );
        self.calls.entry(call).or_default().push(leg);
    }

    fn forget(&mut self, call: CallId) {
        for leg in self.calls.remove(&call).unwrap_or_default() {
            let Some(mut st) = self.legs.remove(&leg) else {
                continue;
            };
            self.feed.finish(leg, &mut st);
        }
    }

    fn on_packet(&mut self, p: &TapPacket<'_>) {
        let Some(st) = self.legs.get_mut(&p.leg) else {
            return;
        };
        self.packets += 1;
        self.feed.on_packet(p, st);
    }
}

impl Feed {
    /// An engine channel for a leg's audio; `None` (logged) when the
    /// engine has none left: the leg's audio detectors are off.
    fn open_channel(&mut self, call: CallId, leg: LegId) -> Option<ChannelId> {
        match self.engine.open_channel() {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::warn!(call = call.0, leg = leg.0, "detectors off: {e}");
                None
            }
        }
    }

    /// Ends a leg: its last events, and its engine channel closed.
    fn finish(&mut self, leg: LegId, st: &mut LegState) {
        if let Some(t) = st.tracker.as_mut() {
            t.finish();
        }
        self.poll_digits(leg, st);
        self.found.clear();
        if let Some(d) = st.detectors.as_mut() {
            d.finish(&mut self.found);
        }
        self.emit_found(leg, st);
        if let Some(c) = st.channel {
            let _ = self.engine.close_channel(c);
        }
    }

    fn send(&self, e: LiveEvent) {
        if self.events.try_send(e).is_err() {
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn emit_found(&mut self, leg: LegId, st: &LegState) {
        if self.found.is_empty() {
            return;
        }
        let wall_ms = unix_ms();
        let shift = (st.detectors_from + st.skipped) * 1000 / SAMPLE_RATE as u64;
        for e in self.found.drain(..) {
            let e = shift_event(e, shift);
            let ev = LiveEvent {
                call: st.call,
                leg,
                media_ms: e.time_ms(),
                wall_ms,
                event: e,
            };
            if self.events.try_send(ev).is_err() {
                self.counters.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    fn poll_digits(&self, leg: LegId, st: &mut LegState) {
        let Some(t) = st.tracker.as_mut() else { return };
        let base = st.base_ts.unwrap_or(0);
        let now = st.fed + st.skipped;
        while let Some(d) = t.poll() {
            // an event stamped before the leg began, or an hour or more
            // past its audio (a hostile or reset sender clock), is placed
            // at the media time reached
            let rel = i64::from((d.start_ts as u32).wrapping_sub(base) as i32);
            let rel = u64::try_from(rel)
                .ok()
                .filter(|&r| r <= now + MAX_GAP_SPAN as u64)
                .unwrap_or(now);
            let start_ms = rel * 1000 / SAMPLE_RATE as u64;
            let end_ms = start_ms + d.duration as u64 * 1000 / SAMPLE_RATE as u64;
            self.send(LiveEvent {
                call: st.call,
                leg,
                media_ms: start_ms,
                wall_ms: unix_ms(),
                event: Event::Dtmf {
                    digit: d.digit,
                    start_ms,
                    end_ms,
                    source: DigitSource::Rfc4733,
                },
            });
        }
    }

    fn on_packet(&mut self, p: &TapPacket<'_>, st: &mut LegState) {
        st.base_ts.get_or_insert(p.timestamp);
        if st.ssrc != p.ssrc {
            if st.fed > 0 || st.next_ts.is_some() {
                // A new source: keep media time running from where it is.
                st.rebase(p.timestamp);
                st.last_seq = None;
            }
            st.ssrc = p.ssrc;
        }
        if st.telephone_event == Some(p.payload_type) {
            if let (Some(t), Ok(ev)) = (st.tracker.as_mut(), TelephoneEvent::parse(p.payload)) {
                t.push(p.timestamp, p.sequence, &ev);
                self.poll_digits(p.leg, st);
            }
        } else if let (Some(law), Some(ch)) = (
            match p.payload_type {
                0 => Some(Law::Ulaw),
                8 => Some(Law::Alaw),
                _ => None,
            },
            st.channel,
        ) {
            if st
                .detectors
                .as_ref()
                .is_some_and(CallDetectors::wants_audio)
            {
                self.on_audio(p, law, ch, st);
            } else {
                // the detectors are done (or none listens to audio): the
                // channel goes back to the engine, whose channels may be
                // few (the FPGA block's)
                let _ = self.engine.close_channel(ch);
                st.channel = None;
            }
        }
    }

    fn on_audio(&mut self, p: &TapPacket<'_>, law: Law, ch: ChannelId, st: &mut LegState) {
        self.blocks.clear();
        if st.last_seq.is_some_and(|last| {
            (-MAX_MISORDER..=0).contains(&(p.sequence.wrapping_sub(last) as i16))
        }) {
            return; // late or repeated audio: already past it
        }
        st.last_seq = Some(p.sequence);
        if let Some(next) = st.next_ts {
            let gap = p.timestamp.wrapping_sub(next) as i32;
            if !(0..=MAX_GAP_SPAN).contains(&gap) {
                // the next packet, but the sender's clock went back or
                // leapt past any hold (a restarted sender keeping its
                // SSRC, a hostile stream): media time runs on from here
                st.rebase(p.timestamp);
            }
        }
        if let Some(next) = st.next_ts {
            let gap = p.timestamp.wrapping_sub(next);
            let fill = gap.min(MAX_GAP_FILL);
            st.skipped += (gap - fill) as u64;
            let mut left = fill as usize;
            while left > 0 {
                let n = left.min(ZEROS.len());
                if self
                    .engine
                    .process(ch, &ZEROS[..n], &mut self.blocks)
                    .is_err()
                {
                    return;
                }
                left -= n;
                st.fed += n as u64;
                self.run_blocks(st);
            }
        }
        st.next_ts = Some(p.timestamp.wrapping_add(p.payload.len() as u32));
        if self
            .engine
            .process_g711(ch, law, p.payload, &mut self.blocks)
            .is_ok()
        {
            st.fed += p.payload.len() as u64;
            self.run_blocks(st);
        }
        self.emit_found(p.leg, st);
    }

    fn run_blocks(&mut self, st: &mut LegState) {
        if let Some(d) = st.detectors.as_mut() {
            for b in &self.blocks {
                d.push(b, &mut self.found);
            }
        }
        self.blocks.clear();
    }
}

fn shift_event(e: Event, ms: u64) -> Event {
    if ms == 0 {
        return e;
    }
    match e {
        Event::Dtmf {
            digit,
            start_ms,
            end_ms,
            source,
        } => Event::Dtmf {
            digit,
            start_ms: start_ms + ms,
            end_ms: end_ms + ms,
            source,
        },
        Event::Amd {
            verdict,
            at_ms,
            cause,
            confidence,
        } => Event::Amd {
            verdict,
            at_ms: at_ms + ms,
            cause,
            confidence,
        },
        Event::Beep {
            start_ms,
            end_ms,
            freq_hz,
        } => Event::Beep {
            start_ms: start_ms + ms,
            end_ms: end_ms + ms,
            freq_hz,
        },
    }
}

impl DetectorTap for LiveTap {
    fn on_rtp(&mut self, packet: &TapPacket<'_>) {
        self.drain_control();
        self.on_packet(packet);
        if self.packets >= 1024 {
            self.feed
                .counters
                .packets
                .fetch_add(std::mem::take(&mut self.packets), Ordering::Relaxed);
        }
    }
}

impl Drop for LiveTap {
    fn drop(&mut self) {
        self.feed
            .counters
            .packets
            .fetch_add(self.packets, Ordering::Relaxed);
    }
}

/// The control side's handle on every shard's tap.
#[derive(Debug)]
pub struct LiveControl {
    shards: Vec<mpsc::Sender<TapControl>>,
    /// Counters shared with the taps.
    pub counters: Arc<TapCounters>,
}

impl LiveControl {
    /// One tap per shard, sending events into `events`; the taps go into
    /// the shards' cores, this stays with the control side.
    pub fn new(shards: usize, events: mpsc::SyncSender<LiveEvent>) -> (Self, Vec<LiveTap>) {
        Self::with_backend(shards, events, DspBackend::Software)
            .expect("the software engine is always available")
    }

    /// The same with each tap on its own engine of `backend` (all the
    /// channels it has: one per leg).
    pub fn with_backend(
        shards: usize,
        events: mpsc::SyncSender<LiveEvent>,
        backend: DspBackend,
    ) -> Result<(Self, Vec<LiveTap>), BackendError> {
        backend.check()?;
        let counters = Arc::new(TapCounters::default());
        let mut senders = Vec::with_capacity(shards);
        let mut taps = Vec::with_capacity(shards);
        for _ in 0..shards.max(1) {
            let (tx, rx) = mpsc::channel();
            senders.push(tx);
            let engine = backend.engine(None)?;
            taps.push(LiveTap::with_engine(
                rx,
                events.clone(),
                counters.clone(),
                engine,
            ));
        }
        Ok((
            LiveControl {
                shards: senders,
                counters,
            },
            taps,
        ))
    }

    /// Sends `control` to `shard`'s tap (a stopped shard ignores it).
    pub fn send(&self, shard: usize, control: TapControl) {
        if let Some(tx) = self.shards.get(shard) {
            let _ = tx.send(control);
        }
    }

    /// Gives every tap new AMD and beep parameters for the legs configured
    /// after this ([`TapControl::Tuning`]: queued before them, so they take
    /// it whenever the tap next runs).
    pub fn tune(&self, amd: &AmdConfig, beep: &BeepConfig) {
        for shard in 0..self.shards.len() {
            self.send(
                shard,
                TapControl::Tuning {
                    amd: Box::new(amd.clone()),
                    beep: Box::new(beep.clone()),
                },
            );
        }
    }
}

/// The payload type the SDP media section maps to `telephone-event/8000`.
pub fn telephone_event_pt<'a>(
    payload_types: impl IntoIterator<Item = (u8, &'a str, u32)>,
) -> Option<u8> {
    payload_types
        .into_iter()
        .find(|(_, enc, rate)| enc.eq_ignore_ascii_case("telephone-event") && *rate == SAMPLE_RATE)
        .map(|(pt, _, _)| pt)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ringwire_dsp::signal::{to_i16, DtmfTone};
    use std::time::Duration;

    fn tone_then_silence(digit: char) -> Vec<i16> {
        let mut s = vec![0.0f64; 800 + 1600];
        DtmfTone::new(digit, -10.0).add_to(&mut s[..800], 0.0);
        to_i16(&s)
    }

    fn feed(tap: &mut LiveTap, leg: LegId, pt: u8, ts: u32, seq: u16, payload: &[u8]) {
        tap.on_rtp(&TapPacket {
            call: CallId(1),
            leg,
            now: Duration::ZERO,
            payload_type: pt,
            marker: false,
            sequence: seq,
            timestamp: ts,
            ssrc: 9,
            payload,
        });
    }

    /// A tap whose legs take AMD's maximum analysis time `max_analysis_ms`,
    /// with its control and its events.
    fn tap_with_amd(max_analysis_ms: u32) -> (LiveControl, LiveTap, mpsc::Receiver<LiveEvent>) {
        let (etx, erx) = mpsc::sync_channel(64);
        let (ctl, mut taps) = LiveControl::new(1, etx);
        let mut tap = taps.remove(0);
        tap.set_amd_config(AmdConfig {
            max_analysis_ms,
            ..AmdConfig::default()
        });
        (ctl, tap, erx)
    }

    fn add_leg(ctl: &LiveControl, leg: LegId, detectors: DetectorSet) {
        ctl.send(
            0,
            TapControl::Leg {
                call: CallId(1),
                leg,
                detectors,
                telephone_event: None,
            },
        );
    }

    /// Feeds `digit` (a DTMF tone, then silence: 300 ms) as µ-law packets
    /// from `ts` and `seq` on, which it moves past them.
    fn feed_digit(tap: &mut LiveTap, leg: LegId, digit: char, ts: &mut u32, seq: &mut u16) {
        for chunk in tone_then_silence(digit).chunks(160) {
            let mut out = [0u8; 160];
            let n = Law::Ulaw.encode(chunk, &mut out);
            feed(tap, leg, 0, *ts, *seq, &out[..n]);
            (*ts, *seq) = (ts.wrapping_add(160), seq.wrapping_add(1));
        }
    }

    /// Feeds `packets` packets of µ-law silence from `ts` and `seq` on.
    fn feed_silence(tap: &mut LiveTap, leg: LegId, packets: usize, ts: &mut u32, seq: &mut u16) {
        for _ in 0..packets {
            feed(tap, leg, 0, *ts, *seq, &[0xff; 160]);
            (*ts, *seq) = (ts.wrapping_add(160), seq.wrapping_add(1));
        }
    }

    /// The digits among the events so far, with their media time.
    fn digits_in(erx: &mpsc::Receiver<LiveEvent>) -> Vec<(char, u64)> {
        erx.try_iter()
            .filter_map(|e| match e.event {
                Event::Dtmf { digit, .. } => Some((digit, e.media_ms)),
                _ => None,
            })
            .collect()
    }

    const DTMF_ONLY: DetectorSet = DetectorSet {
        dtmf: true,
        amd: false,
        beep: false,
    };

    #[test]
    fn inband_and_rfc4733_digits_with_media_time() {
        let (etx, erx) = mpsc::sync_channel(64);
        let (ctl, mut taps) = LiveControl::new(1, etx);
        let mut tap = taps.remove(0);
        let leg = LegId(7);
        ctl.send(
            0,
            TapControl::Leg {
                call: CallId(1),
                leg,
                detectors: DTMF_ONLY,
                telephone_event: Some(101),
            },
        );
        let mut ts = 1000u32;
        let mut seq = 0u16;
        for d in ['1', '5'] {
            feed_digit(&mut tap, leg, d, &mut ts, &mut seq);
        }
        // a 400 ms hole in the audio (silence filled), then an RFC 4733 '9'
        ts = ts.wrapping_add(3200);
        for (i, end) in [(0u16, false), (1, false), (2, true), (3, true)] {
            let ev = TelephoneEvent {
                event: 9,
                end,
                volume: 10,
                duration: 160 * (i + 1).min(3),
            };
            let mut b = [0u8; 4];
            ev.write(&mut b);
            feed(&mut tap, leg, 101, ts, seq, &b);
            seq = seq.wrapping_add(1);
        }
        // more silence to let the in-band detector close
        let silence = [0xffu8; 160];
        for _ in 0..10 {
            ts = ts.wrapping_add(160);
            feed(&mut tap, leg, 0, ts, seq, &silence);
            seq = seq.wrapping_add(1);
        }
        let got: Vec<LiveEvent> = erx.try_iter().collect();
        let digits: Vec<(char, DigitSource, u64)> = got
            .iter()
            .filter_map(|e| match e.event {
                Event::Dtmf { digit, source, .. } => Some((digit, source, e.media_ms)),
                _ => None,
            })
            .collect();
        assert_eq!(
            digits.iter().map(|d| (d.0, d.1)).collect::<Vec<_>>(),
            vec![
                ('1', DigitSource::Inband),
                ('5', DigitSource::Inband),
                ('9', DigitSource::Rfc4733)
            ],
            "{got:?}"
        );
        // '1' at 0 ms, '5' at 300 ms, '9' after 600 ms of audio and a 400 ms hole
        assert!(digits[0].2 < 40, "{digits:?}");
        assert!((280..=340).contains(&digits[1].2), "{digits:?}");
        assert_eq!(digits[2].2, 1000, "{digits:?}");
        assert!(got.iter().all(|e| e.call == CallId(1) && e.leg == leg));
        assert_eq!(ctl.counters.dropped.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn the_amd_parameters_set_on_a_tap_reach_its_legs() {
        let (ctl, mut tap, erx) = tap_with_amd(1000);
        let leg = LegId(3);
        let amd = DetectorSet {
            amd: true,
            ..Default::default()
        };
        add_leg(&ctl, leg, amd);
        // 1.5 s of silence: "unknown" at the configured 1 s, not 8 s
        let silence = [0xFFu8; 160]; // µ-law zero
        for seq in 0..75u16 {
            feed(&mut tap, leg, 0, 160 * seq as u32, seq, &silence);
        }
        let e = erx.try_recv().expect("an AMD event");
        match e.event {
            Event::Amd { verdict, at_ms, .. } => {
                assert_eq!((verdict.as_str(), at_ms), ("unknown", 1000));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn new_tuning_reaches_the_legs_set_up_after_it_and_only_those() {
        let (ctl, mut tap, erx) = tap_with_amd(1000);
        let amd = DetectorSet {
            amd: true,
            ..Default::default()
        };
        let (before, after) = (LegId(5), LegId(6));
        add_leg(&ctl, before, amd);
        ctl.tune(
            &AmdConfig {
                max_analysis_ms: 2000,
                ..AmdConfig::default()
            },
            &BeepConfig::default(),
        );
        add_leg(&ctl, after, amd);
        // 2.5 s of silence on each: "unknown" at 1 s on the leg set up
        // before the tuning, at 2 s on the one after
        let silence = [0xFFu8; 160]; // µ-law zero
        for seq in 0..125u16 {
            for leg in [before, after] {
                feed(&mut tap, leg, 0, 160 * seq as u32, seq, &silence);
            }
        }
        let verdicts: Vec<(LegId, u64)> = erx
            .try_iter()
            .filter_map(|e| match e.event {
                Event::Amd { at_ms, .. } => Some((e.leg, at_ms)),
                _ => None,
            })
            .collect();
        assert_eq!(verdicts, [(before, 1000), (after, 2000)]);
    }

    #[test]
    fn a_leg_whose_detectors_are_done_is_fed_no_more_audio() {
        let (ctl, mut tap, erx) = tap_with_amd(1000);
        let leg = LegId(4);
        let amd_beep = DetectorSet {
            amd: true,
            beep: true,
            ..Default::default()
        };
        add_leg(&ctl, leg, amd_beep);
        // 20 s of silence: "unknown" at 1 s, then 10 s of tracking
        let silence = [0xFFu8; 160];
        for seq in 0..1000u16 {
            feed(&mut tap, leg, 0, 160 * seq as u32, seq, &silence);
        }
        assert!(matches!(
            erx.try_recv().map(|e| e.event),
            Ok(Event::Amd { .. })
        ));
        let fed_ms = tap.legs[&leg].fed / 8;
        assert!((11_000..12_000).contains(&fed_ms), "{fed_ms} ms fed");
        // its engine channel went back; DTMF asked for later brings one
        assert!(tap.legs[&leg].channel.is_none());
        let dtmf_too = DetectorSet {
            dtmf: true,
            ..amd_beep
        };
        add_leg(&ctl, leg, dtmf_too);
        for seq in 1000..1050u16 {
            feed(&mut tap, leg, 0, 160 * seq as u32, seq, &silence);
        }
        let st = &tap.legs[&leg];
        assert!(st.channel.is_some());
        assert!(st.fed / 8 >= fed_ms + 1000, "{} ms fed", st.fed / 8);
        // media time runs on across the stretch nobody listened to
        assert_eq!((st.fed + st.skipped) / 8, 21_000);
        // with DTMF on as well, the audio goes on to the end
        let leg = LegId(5);
        let all = DetectorSet {
            dtmf: true,
            ..amd_beep
        };
        add_leg(&ctl, leg, all);
        for seq in 0..1000u16 {
            feed(&mut tap, leg, 0, 160 * seq as u32, seq, &silence);
        }
        assert_eq!(tap.legs[&leg].fed / 8, 20_000);
    }

    #[test]
    fn the_beep_parameters_set_on_a_tap_reach_its_legs() {
        // a 2 s greeting, then a 1000 Hz beep of 400 ms
        let mut s = vec![0.0; 4000];
        ringwire_dsp::signal::add_speech_like(&mut s, 2000, 6000.0);
        s.resize(s.len() + 4800, 0.0);
        let mut tone = ringwire_dsp::signal::Sine::new(1000.0, 8000.0, 6000.0, 0.0);
        s.extend((0..3200).map(|_| tone.next_sample()));
        s.resize(s.len() + 16000, 0.0);
        let pcm = to_i16(&s);
        let beeps = |beep: BeepConfig| {
            let (ctl, mut tap, erx) = tap_with_amd(8000);
            tap.set_beep_config(beep);
            let leg = LegId(6);
            let set = DetectorSet {
                amd: true,
                beep: true,
                ..Default::default()
            };
            add_leg(&ctl, leg, set);
            for (seq, chunk) in pcm.chunks(160).enumerate() {
                let mut out = [0u8; 160];
                let n = Law::Ulaw.encode(chunk, &mut out);
                feed(&mut tap, leg, 0, 160 * seq as u32, seq as u16, &out[..n]);
            }
            erx.try_iter()
                .filter(|e| matches!(e.event, Event::Beep { .. }))
                .count()
        };
        assert_eq!(beeps(BeepConfig::default()), 1);
        let mut above = BeepConfig::default();
        above.set_threshold("min_freq_hz", 1200.0).unwrap();
        assert_eq!(beeps(above), 0);
    }

    #[test]
    fn detectors_a_re_offer_adds_keep_the_legs_media_time() {
        let (ctl, mut tap, erx) = tap_with_amd(1000);
        let leg = LegId(8);
        let dtmf = DTMF_ONLY;
        add_leg(&ctl, leg, dtmf);
        let silence = [0xFFu8; 160];
        for seq in 0..100u16 {
            feed(&mut tap, leg, 0, 160 * seq as u32, seq, &silence);
        }
        // 2 s in, AMD too: "unknown" 1 s later, at 3 s of the leg's media
        let both = DetectorSet { amd: true, ..dtmf };
        add_leg(&ctl, leg, both);
        for seq in 100..200u16 {
            feed(&mut tap, leg, 0, 160 * seq as u32, seq, &silence);
        }
        let amd: Vec<u64> = erx
            .try_iter()
            .filter(|e| matches!(e.event, Event::Amd { .. }))
            .map(|e| e.media_ms)
            .collect();
        assert_eq!(amd, [3000]);
    }

    #[test]
    fn forgetting_a_call_ends_its_legs_only() {
        let (ctl, mut tap, _erx) = tap_with_amd(8000);
        let dtmf = DTMF_ONLY;
        for (call, leg) in [(1, 10), (1, 11), (2, 20), (2, 21)] {
            ctl.send(
                0,
                TapControl::Leg {
                    call: CallId(call),
                    leg: LegId(leg),
                    detectors: dtmf,
                    telephone_event: None,
                },
            );
        }
        // a leg configured again is still one leg of its call
        add_leg(&ctl, LegId(10), dtmf);
        tap.drain_control();
        assert_eq!(tap.leg_count(), 4);
        ctl.send(0, TapControl::Forget { call: CallId(1) });
        tap.drain_control();
        let mut left: Vec<u64> = tap.legs.keys().map(|l| l.0).collect();
        left.sort();
        assert_eq!(left, [20, 21]);
        assert!(!tap.calls.contains_key(&CallId(1)));
        ctl.send(0, TapControl::Forget { call: CallId(2) });
        tap.drain_control();
        assert_eq!((tap.leg_count(), tap.calls.len()), (0, 0));
    }

    /// One packet of a hostile stream: source, payload type, steps of
    /// sequence number and timestamp (any, including backwards and jumps),
    /// and a payload of any length and content.
    fn arb_packet() -> impl proptest::strategy::Strategy<Value = (u32, u8, u16, u32, Vec<u8>)> {
        use proptest::prelude::*;
        (
            prop_oneof![8 => Just(9u32), 1 => Just(10u32)],
            prop_oneof![4 => Just(0u8), 2 => Just(8u8), 2 => Just(101u8), 1 => any::<u8>()],
            prop_oneof![8 => Just(1u16), 1 => any::<u16>()],
            prop_oneof![6 => Just(160u32), 1 => Just(0u32), 1 => Just(160u32.wrapping_neg()), 2 => any::<u32>()],
            proptest::collection::vec(any::<u8>(), 0..200),
        )
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 64, ..Default::default() })]

        /// Any RTP stream, however broken, runs through a leg's detectors
        /// without a panic, with media time bounded by the gap fill, and
        /// gives at most one AMD verdict, which the forgotten call's legs
        /// give at the latest when they end.
        #[test]
        fn any_packet_stream_gives_at_most_one_amd_verdict(
            packets in proptest::collection::vec(arb_packet(), 1..300)
        ) {
            let (ctl, mut tap, erx) = tap_with_amd(8000);
            let leg = LegId(3);
            ctl.send(
                0,
                TapControl::Leg {
                    call: CallId(1),
                    leg,
                    detectors: DetectorSet { dtmf: true, amd: true, beep: true },
                    telephone_event: Some(101),
                },
            );
            let (mut seq, mut ts) = (0u16, 0u32);
            for (ssrc, pt, dseq, dts, payload) in &packets {
                seq = seq.wrapping_add(*dseq);
                ts = ts.wrapping_add(*dts);
                tap.on_rtp(&TapPacket {
                    call: CallId(1),
                    leg,
                    now: Duration::ZERO,
                    payload_type: *pt,
                    marker: false,
                    sequence: seq,
                    timestamp: ts,
                    ssrc: *ssrc,
                    payload,
                });
            }
            ctl.send(0, TapControl::Forget { call: CallId(1) });
            tap.drain_control();
            let got: Vec<LiveEvent> = erx.try_iter().collect();
            let amd = got.iter().filter(|e| matches!(e.event, Event::Amd { .. })).count();
            proptest::prop_assert!(amd <= 1, "{got:?}");
            // each packet moves media time by at most its own audio and a
            // gap of up to an hour
            let most_ms = packets.len() as u64 * (MAX_GAP_SPAN as u64 + 200) * 1000
                / u64::from(SAMPLE_RATE);
            proptest::prop_assert!(got.iter().all(|e| e.media_ms <= most_ms), "{got:?}");
            proptest::prop_assert_eq!(ctl.counters.dropped.load(Ordering::Relaxed), 0);
        }
    }

    #[test]
    fn a_sender_clock_reset_keeps_the_leg_heard() {
        // a sender that restarts its RTP clock mid-call but keeps its SSRC
        // and sequence: what follows is the next audio, not audio from
        // hours ago (every packet after the reset was dropped as late)
        let (ctl, mut tap, erx) = tap_with_amd(8000);
        let leg = LegId(5);
        add_leg(&ctl, leg, DTMF_ONLY);
        let (mut ts, mut seq) = (1_000_000_000u32, 0u16);
        feed_silence(&mut tap, leg, 50, &mut ts, &mut seq);
        ts = 1_000;
        feed_digit(&mut tap, leg, '7', &mut ts, &mut seq);
        // and a leap forward of a day goes on from there too
        ts = ts.wrapping_add(24 * 3600 * SAMPLE_RATE);
        feed_digit(&mut tap, leg, '8', &mut ts, &mut seq);
        let digits = digits_in(&erx);
        assert_eq!(digits.iter().map(|d| d.0).collect::<String>(), "78");
        // '7' right after the first second, '8' 300 ms after the end of it
        assert!((1000..1040).contains(&digits[0].1), "{digits:?}");
        assert!((1300..1340).contains(&digits[1].1), "{digits:?}");
    }

    #[test]
    fn a_sequence_jump_keeps_the_leg_heard() {
        // a sender that restarts its sequence numbers (and clock) far from
        // the last ones: a late packet is at most MAX_MISORDER behind, so
        // what follows the jump is fed, not dropped until the numbers wrap
        let (ctl, mut tap, erx) = tap_with_amd(8000);
        let leg = LegId(6);
        add_leg(&ctl, leg, DTMF_ONLY);
        let (mut ts, mut seq) = (0u32, 40_000u16);
        feed_silence(&mut tap, leg, 50, &mut ts, &mut seq);
        // a late packet, and a repeat, change nothing
        feed(&mut tap, leg, 0, ts - 800, seq - 5, &[0xff; 160]);
        feed(&mut tap, leg, 0, ts - 160, seq - 1, &[0xff; 160]);
        let (mut ts, mut seq) = (500_000u32, 20_000u16);
        feed_digit(&mut tap, leg, '4', &mut ts, &mut seq);
        let digits = digits_in(&erx);
        assert_eq!(digits.len(), 1, "{digits:?}");
        assert_eq!(digits[0].0, '4');
        // the clock leapt 62 s ahead with the jump: a gap, counted
        assert!((62_500..62_540).contains(&digits[0].1), "{digits:?}");
    }

    #[test]
    fn flags_switch_detectors() {
        let d = DTMF_ONLY;
        let s = d.with_flags(["detect-AMD", "detect beep", "no-detect-dtmf"]);
        assert_eq!(
            s,
            DetectorSet {
                dtmf: false,
                amd: true,
                beep: true
            }
        );
        assert!(!d.with_flags(["no-detect"]).any());
    }

    #[test]
    fn telephone_event_from_rtpmap() {
        let pts = [
            (0u8, "PCMU", 8000u32),
            (96, "telephone-event", 48000),
            (101, "telephone-event", 8000),
        ];
        assert_eq!(telephone_event_pt(pts), Some(101));
        assert_eq!(telephone_event_pt([(0u8, "PCMU", 8000u32)]), None);
    }
}
