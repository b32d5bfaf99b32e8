//! The rtpengine NG control protocol, sans IO: bencode over UDP with a
//! cookie, as Kamailio's and OpenSIPS's `rtpengine` modules speak it.
//!
//! The driver owns the socket; [`NgServer`] turns each datagram into the
//! reply bytes, calling a [`CallControl`] (the node) for the work:
//!
//! ```no_run
//! # use ringwire_host::ng::{NgServer, CallControl};
//! # fn run(socket: std::net::UdpSocket, node: impl CallControl) -> std::io::Result<()> {
//! let mut server = NgServer::new(node);
//! let (mut buf, mut reply) = (vec![0u8; 65536], Vec::new());
//! loop {
//!     let (n, peer) = socket.recv_from(&mut buf)?;
//!     reply.clear();
//!     match server.handle(std::time::Instant::now(), &buf[..n], &mut reply) {
//!         Ok(()) => { socket.send_to(&reply, peer)?; }
//!         Err(_dropped) => {} // no cookie: counted in server.stats(), nothing to answer
//!     }
//! }
//! # }
//! ```
//!
//! Map: [`bencode`] decodes and encodes the dictionaries (zero copy, any key
//! order); [`command`] splits the cookie, types the commands and encodes the
//! replies; [`sdp`] reads offers/answers and rewrites them to the node's
//! address and ports; [`codec_rules`] takes codecs out of them as the
//! proxy's codec options ask; [`codec`] names a section's codec and
//! [`short_name`] keeps such names inline; this module ties them together and answers
//! retransmissions (same cookie, same body) from a reply cache, as rtpengine
//! does, so a proxy's retry never allocates a call twice.

pub mod bencode;
pub mod codec;
pub mod codec_rules;
pub mod command;
pub mod sdp;
pub mod short_name;

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::net::IpAddr;
use std::time::{Duration, Instant};

use thiserror::Error;

pub use command::{
    parse_request, Answer, CallStats, Command, CommandError, Counters, Delete, DetectorEvent,
    EventField, MediaStats, MosEntry, MosStats, Offer, Options, Query, ReceiveQuality, Reply,
    Request, RequestError, TagStats,
};
pub use sdp::{Direction, MediaPorts, RewriteOptions, Sdp, SdpError};

/// Where the node anchors a call leg's media: the address written into
/// every `c=` line and one entry per `m=` section, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allocation {
    /// The node's media address as the peer should see it.
    pub address: IpAddr,
    /// Ports per media section (ignored for disabled sections, port 0).
    pub media: Vec<MediaPorts>,
}

/// Why the node refused a command. The `Display` text is the NG
/// `error-reason`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ControlError {
    /// No call with this Call-ID (or not with these tags).
    #[error("Unknown call-id")]
    UnknownCall,
    /// The call exists but not the leg named by a tag.
    #[error("Unknown tag")]
    UnknownTag,
    /// The RTP port range is exhausted.
    #[error("Ran out of ports")]
    NoPorts,
    /// The node is at its limit of open descriptors (sockets).
    #[error("Ran out of file descriptors")]
    NoDescriptors,
    /// The node takes no new call now (it is draining for a stop, full at
    /// `[media] max_calls`, or out of descriptors), though another node
    /// may: rtpengine's `load limit`.
    #[error("{0}")]
    LoadLimit(String),
    /// Anything else, worded for the proxy's log.
    #[error("{0}")]
    Other(String),
}

impl ControlError {
    /// The NG reply that refuses a command for this reason. A
    /// [`LoadLimit`](ControlError::LoadLimit) is rtpengine's `result: load
    /// limit`, on which a proxy such as Kamailio tries its next node, for
    /// a client that says it understands it (`supports`); the rest, and
    /// a load limit to any other client, are errors.
    pub fn reply(&self, load_limit_understood: bool) -> Reply {
        match self {
            ControlError::LoadLimit(m) if load_limit_understood => Reply::LoadLimit(m.clone()),
            _ => Reply::Error(self.to_string()),
        }
    }
}

/// What the node does for each NG command. [`NgServer`] has already parsed
/// the request and the SDP; it rewrites the SDP with the returned
/// [`Allocation`] and encodes the reply.
pub trait CallControl {
    /// `ping`: whether the node is alive (default: yes).
    fn ping(&mut self) -> Result<(), ControlError> {
        Ok(())
    }

    /// `offer`: create or update the call and the `from-tag` leg; allocate a
    /// port per media section of `sdp` for the other side to send to.
    fn offer(&mut self, offer: &Offer<'_>, sdp: &Sdp<'_>) -> Result<Allocation, ControlError>;

    /// `answer`: complete the `to-tag` leg; allocate (or return the ports
    /// already allocated at offer time) for the offering side to send to.
    fn answer(&mut self, answer: &Answer<'_>, sdp: &Sdp<'_>) -> Result<Allocation, ControlError>;

    /// `delete`: end the call (or the legs the tags name); return its final
    /// statistics if it has any.
    fn delete(&mut self, delete: &Delete<'_>) -> Result<Option<CallStats>, ControlError>;

    /// `query`: current statistics of the call.
    fn query(&mut self, query: &Query<'_>) -> Result<CallStats, ControlError>;
}

/// The datagram could not be answered: it has no `COOKIE SP` prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("NG datagram without a cookie dropped")]
pub struct Dropped;

/// Settings of an [`NgServer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NgConfig {
    /// How long a reply is kept to answer a retransmission (rtpengine: 30 s).
    pub cache_ttl: Duration,
    /// Most replies kept; the oldest go first.
    pub cache_capacity: usize,
    /// Drop ICE attributes from rewritten SDP (ringwire is not an ICE
    /// agent, so peers must not see each other's candidates). Default on.
    pub strip_ice: bool,
}

impl Default for NgConfig {
    fn default() -> Self {
        NgConfig {
            cache_ttl: Duration::from_secs(30),
            cache_capacity: 16_384,
            strip_ice: true,
        }
    }
}

/// Counters of an [`NgServer`], for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NgStats {
    /// Datagrams handled (answered or dropped).
    pub datagrams: u64,
    /// Datagrams dropped for want of a cookie.
    pub dropped: u64,
    /// Replies served from the retransmission cache.
    pub retransmits: u64,
    /// Error and load-limit replies sent (malformed requests and refused
    /// commands).
    pub errors: u64,
    /// `ping` commands executed.
    pub pings: u64,
    /// `offer` commands executed.
    pub offers: u64,
    /// `answer` commands executed.
    pub answers: u64,
    /// `delete` commands executed.
    pub deletes: u64,
    /// `query` commands executed.
    pub queries: u64,
}

struct CachedReply {
    seq: u64,
    body_hash: u64,
    reply: Vec<u8>,
}

/// The NG protocol engine: datagram in, reply bytes out. No sockets, no
/// clock (time is an argument), no panics on any input.
pub struct NgServer<C> {
    control: C,
    config: NgConfig,
    stats: NgStats,
    cache: HashMap<Vec<u8>, CachedReply>,
    order: VecDeque<(Instant, u64, Vec<u8>)>,
    seq: u64,
}

impl<C: CallControl> NgServer<C> {
    /// A server with default settings.
    pub fn new(control: C) -> Self {
        Self::with_config(control, NgConfig::default())
    }

    /// A server with the given settings.
    pub fn with_config(control: C, config: NgConfig) -> Self {
        NgServer {
            control,
            config,
            stats: NgStats::default(),
            cache: HashMap::new(),
            order: VecDeque::new(),
            seq: 0,
        }
    }

    /// The node behind the server.
    pub fn control(&self) -> &C {
        &self.control
    }

    /// The node behind the server, mutably.
    pub fn control_mut(&mut self) -> &mut C {
        &mut self.control
    }

    /// Counters so far.
    pub fn stats(&self) -> NgStats {
        self.stats
    }

    /// Handles one datagram received at `now` and appends the reply
    /// (`COOKIE SP DICT`) to `out`. Returns [`Dropped`] (and appends
    /// nothing) when the datagram has no cookie to answer to.
    pub fn handle(
        &mut self,
        now: Instant,
        datagram: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), Dropped> {
        self.stats.datagrams += 1;
        let Some((cookie, body)) = command::split_cookie(datagram) else {
            self.stats.dropped += 1;
            return Err(Dropped);
        };
        self.expire(now);
        let body_hash = hash(body);
        if let Some(c) = self.cache.get(cookie) {
            if c.body_hash == body_hash {
                self.stats.retransmits += 1;
                out.extend_from_slice(&c.reply);
                return Ok(());
            }
        }
        let start = out.len();
        let (reply, cacheable) = match parse_request(datagram) {
            Ok(req) => {
                let cacheable = !matches!(req.command, Command::Ping);
                (self.execute(&req.command), cacheable)
            }
            Err(RequestError::Command { error, .. }) => (Reply::Error(error.to_string()), true),
            Err(RequestError::NoCookie) => {
                // split_cookie succeeded above, so this cannot happen; count
                // it as a drop rather than trust that.
                self.stats.dropped += 1;
                return Err(Dropped);
            }
        };
        if matches!(reply, Reply::Error(_) | Reply::LoadLimit(_)) {
            self.stats.errors += 1;
        }
        reply.encode(cookie, out);
        if cacheable && self.config.cache_capacity > 0 {
            self.remember(now, cookie, body_hash, out[start..].to_vec());
        }
        Ok(())
    }

    fn execute(&mut self, command: &Command<'_>) -> Reply {
        let result = match command {
            Command::Ping => {
                self.stats.pings += 1;
                self.control.ping().map(|()| Reply::Pong)
            }
            Command::Offer(o) => {
                self.stats.offers += 1;
                let opts = self.rewrite_options(&o.options);
                let load_limit = o.options.supports("load limit");
                return self.with_sdp(o.sdp, &o.options, opts, load_limit, |c, sdp| {
                    c.offer(o, sdp)
                });
            }
            Command::Answer(a) => {
                self.stats.answers += 1;
                let opts = self.rewrite_options(&a.options);
                let load_limit = a.options.supports("load limit");
                return self.with_sdp(a.sdp, &a.options, opts, load_limit, |c, sdp| {
                    c.answer(a, sdp)
                });
            }
            Command::Delete(d) => {
                self.stats.deletes += 1;
                match self.control.delete(d) {
                    Ok(Some(s)) => Ok(Reply::Stats(s)),
                    Ok(None) => Ok(Reply::Ok {
                        sdp: None,
                        warning: None,
                    }),
                    // As rtpengine: a call already gone, or a To tag that
                    // names no dialogue of it (a forked call's branch that
                    // never answered), is a warning, not an error, unless
                    // the proxy asks (`fatal`). A BYE resent, or a CANCEL
                    // crossing a BYE, deletes twice.
                    Err(e @ (ControlError::UnknownCall | ControlError::UnknownTag))
                        if !d.options.has_flag("fatal") =>
                    {
                        Ok(Reply::Warning(e.to_string()))
                    }
                    Err(e) => Err(e),
                }
            }
            Command::Query(q) => {
                self.stats.queries += 1;
                self.control.query(q).map(Reply::Stats)
            }
        };
        result.unwrap_or_else(|e| e.reply(false))
    }

    fn rewrite_options(&self, options: &Options<'_>) -> RewriteOptions {
        RewriteOptions {
            replace_origin: options.replaces("origin"),
            strip_ice: self.config.strip_ice,
        }
    }

    /// Parses an offer's or answer's SDP, takes out the codecs its codec
    /// options strip (the node then sees the SDP as it is passed on), has
    /// `call` allocate for it, and rewrites it to the node's address and
    /// ports.
    fn with_sdp(
        &mut self,
        body: &[u8],
        request: &Options<'_>,
        options: RewriteOptions,
        load_limit_understood: bool,
        call: impl FnOnce(&mut C, &Sdp<'_>) -> Result<Allocation, ControlError>,
    ) -> Reply {
        let parse_error = |e: SdpError| Reply::Error(format!("Failed to parse SDP: {e}"));
        let mut filtered = Vec::new();
        let mut warning = None;
        let body = if request.codec.is_empty() {
            body
        } else {
            let plan = match Sdp::parse(body) {
                Ok(sdp) => request.codec.plan(&sdp),
                Err(e) => return parse_error(e),
            };
            warning = plan.warning();
            if !plan.changes() {
                body
            } else if let Err(e) = sdp::keep_formats(body, &plan.keep, &mut filtered) {
                return parse_error(e);
            } else {
                &filtered
            }
        };
        let sdp = match Sdp::parse(body) {
            Ok(s) => s,
            Err(e) => return parse_error(e),
        };
        let alloc = match call(&mut self.control, &sdp) {
            Ok(a) => a,
            Err(e) => return e.reply(load_limit_understood),
        };
        let mut out = Vec::with_capacity(body.len() + 64);
        match sdp::rewrite(body, alloc.address, &alloc.media, options, &mut out) {
            Ok(()) => Reply::Ok {
                sdp: Some(out),
                warning,
            },
            Err(e) => Reply::Error(format!("Failed to rewrite SDP: {e}")),
        }
    }

    fn expire(&mut self, now: Instant) {
        while let Some((at, _, _)) = self.order.front() {
            if now.saturating_duration_since(*at) < self.config.cache_ttl
                && self.order.len() <= self.config.cache_capacity
            {
                break;
            }
            let Some((_, seq, cookie)) = self.order.pop_front() else {
                break;
            };
            self.forget(&cookie, seq);
        }
    }

    fn remember(&mut self, now: Instant, cookie: &[u8], body_hash: u64, reply: Vec<u8>) {
        self.seq += 1;
        let seq = self.seq;
        self.cache.insert(
            cookie.to_vec(),
            CachedReply {
                seq,
                body_hash,
                reply,
            },
        );
        self.order.push_back((now, seq, cookie.to_vec()));
        while self.order.len() > self.config.cache_capacity {
            if let Some((_, seq, old)) = self.order.pop_front() {
                self.forget(&old, seq);
            }
        }
    }

    /// Removes `cookie`'s cached reply if it is still the one queued as
    /// `seq` (a cookie reused with a new body has a newer entry).
    fn forget(&mut self, cookie: &[u8], seq: u64) {
        if self.cache.get(cookie).is_some_and(|c| c.seq == seq) {
            self.cache.remove(cookie);
        }
    }
}

fn hash(body: &[u8]) -> u64 {
    let mut h = DefaultHasher::new();
    body.hash(&mut h);
    h.finish()
}
