//! NG framing and commands: `COOKIE SP BENCODED-DICT` in, the same cookie and
//! a bencoded reply dictionary out.
//!
//! Keys are matched the way rtpengine matches them: `call-id`, `call id` and
//! `call_id` are the same key, and so are upper and lower case (`ICE`,
//! `ice`). Keys this module does not know are ignored here and stay
//! readable through [`Request::dict`].

use std::net::IpAddr;

use thiserror::Error;

use super::bencode::{self, DecodeError, Dict, Value};
use super::codec_rules::CodecRules;

/// A parsed NG request, borrowing from the datagram.
#[derive(Debug, Clone, PartialEq)]
pub struct Request<'a> {
    /// The cookie to echo in the reply (never empty, no spaces).
    pub cookie: &'a [u8],
    /// The command and its typed arguments.
    pub command: Command<'a>,
    /// The whole request dictionary, for keys not typed here.
    pub dict: Dict<'a>,
}

/// A command with its arguments.
#[derive(Debug, Clone, PartialEq)]
pub enum Command<'a> {
    /// `ping`: answered with `pong`.
    Ping,
    /// `offer`: the caller's SDP, to be rewritten for the callee.
    Offer(Offer<'a>),
    /// `answer`: the callee's SDP, to be rewritten for the caller.
    Answer(Answer<'a>),
    /// `delete`: end a call or one of its legs.
    Delete(Delete<'a>),
    /// `query`: statistics of a call.
    Query(Query<'a>),
}

impl Command<'_> {
    /// The command's name on the wire.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Ping => "ping",
            Command::Offer(_) => "offer",
            Command::Answer(_) => "answer",
            Command::Delete(_) => "delete",
            Command::Query(_) => "query",
        }
    }
}

/// Arguments of `offer`.
#[derive(Debug, Clone, PartialEq)]
pub struct Offer<'a> {
    /// SIP Call-ID.
    pub call_id: &'a str,
    /// SIP From tag (the offering leg).
    pub from_tag: &'a str,
    /// The offered SDP body.
    pub sdp: &'a [u8],
    /// Common options.
    pub options: Options<'a>,
}

/// Arguments of `answer`.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer<'a> {
    /// SIP Call-ID.
    pub call_id: &'a str,
    /// SIP From tag (the offering leg).
    pub from_tag: &'a str,
    /// SIP To tag (the answering leg).
    pub to_tag: &'a str,
    /// The answered SDP body.
    pub sdp: &'a [u8],
    /// Common options.
    pub options: Options<'a>,
}

/// Arguments of `delete`.
#[derive(Debug, Clone, PartialEq)]
pub struct Delete<'a> {
    /// SIP Call-ID.
    pub call_id: &'a str,
    /// SIP From tag; optional here, the node decides what a delete without
    /// one ends (the whole call, or an error).
    pub from_tag: Option<&'a str>,
    /// SIP To tag, when only one dialogue of a forked call ends.
    pub to_tag: Option<&'a str>,
    /// `delete-delay` in seconds, when given.
    pub delete_delay: Option<i64>,
    /// Common options (`flags` may hold `fatal` or `all`).
    pub options: Options<'a>,
}

/// Arguments of `query`.
#[derive(Debug, Clone, PartialEq)]
pub struct Query<'a> {
    /// SIP Call-ID.
    pub call_id: &'a str,
    /// SIP From tag, when given.
    pub from_tag: Option<&'a str>,
    /// SIP To tag, when given.
    pub to_tag: Option<&'a str>,
}

/// `IP4` or `IP6` as NG writes them (`address family`, `received-from`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressFamily {
    /// IPv4.
    Ip4,
    /// IPv6.
    Ip6,
}

impl AddressFamily {
    /// The family of `ip`.
    pub fn of(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(_) => AddressFamily::Ip4,
            IpAddr::V6(_) => AddressFamily::Ip6,
        }
    }

    /// `IP4` or `IP6`.
    pub fn as_str(self) -> &'static str {
        match self {
            AddressFamily::Ip4 => "IP4",
            AddressFamily::Ip6 => "IP6",
        }
    }
}

/// Options common to `offer`, `answer` and `delete`, as Kamailio's and
/// OpenSIPS's rtpengine modules send them. Absent keys are `None` or empty.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Options<'a> {
    /// `via-branch`.
    pub via_branch: Option<&'a str>,
    /// `flags`: every item as sent (`trust-address`, `symmetric`, ...).
    pub flags: Vec<&'a str>,
    /// `replace`: `origin`, `session-connection`, ... (also collected from
    /// `replace-origin`-style items in `flags`).
    pub replace: Vec<&'a str>,
    /// `direction`: the two interface names, e.g. `["external","internal"]`.
    pub direction: Vec<&'a str>,
    /// `ICE`: `remove`, `force`, `force-relay`, ...
    pub ice: Option<&'a str>,
    /// `transport-protocol`: `RTP/AVP`, `RTP/SAVP`, ...
    pub transport_protocol: Option<&'a str>,
    /// `received-from`: the signalling source the proxy saw.
    pub received_from: Option<IpAddr>,
    /// `address family`.
    pub address_family: Option<AddressFamily>,
    /// `media address`: the peer's media address, over the SDP's and
    /// `received-from` (rtpengine's meaning).
    pub media_address: Option<IpAddr>,
    /// `rtcp-mux`: `offer`, `demux`, `accept`, `reject`, ...
    pub rtcp_mux: Vec<&'a str>,
    /// `record call`: `yes`/`on` is true, `no`/`off` false.
    pub record_call: Option<bool>,
    /// `label`.
    pub label: Option<&'a str>,
    /// `supports`: reply forms the client understands beyond `ok` and
    /// `error` (Kamailio sends `load limit`).
    pub supports: Vec<&'a str>,
    /// `codec` and the `codec-strip-NAME` style flags: codecs to take out
    /// of the SDP passed on.
    pub codec: CodecRules<'a>,
}

impl Options<'_> {
    /// Whether `flags` holds `flag` (rtpengine spelling tolerance: `-`,
    /// `_` and spaces are equal; case-insensitive).
    pub fn has_flag(&self, flag: &str) -> bool {
        self.flags.iter().any(|f| key_eq(f.as_bytes(), flag))
    }

    /// Whether `supports` holds `what` (e.g. `load limit`).
    pub fn supports(&self, what: &str) -> bool {
        self.supports.iter().any(|f| key_eq(f.as_bytes(), what))
    }

    /// Whether `replace` holds `what` (e.g. `origin`).
    pub fn replaces(&self, what: &str) -> bool {
        self.replace.iter().any(|f| key_eq(f.as_bytes(), what))
    }
}

/// Why a datagram is not an NG request. [`RequestError::NoCookie`] cannot be
/// answered (there is no cookie to echo): the driver counts and drops it.
/// The others are answered with an NG error reply echoing the cookie.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RequestError<'a> {
    /// No `COOKIE SP` prefix: nothing to reply to.
    #[error("datagram has no cookie")]
    NoCookie,
    /// A cookie was found but the rest is not a valid request.
    #[error("{error}")]
    Command {
        /// The cookie to echo in the error reply.
        cookie: &'a [u8],
        /// What is wrong.
        error: CommandError,
    },
}

/// Why a request body is not a valid command. The `Display` text is the
/// `error-reason` of the reply.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CommandError {
    /// The body is not bencode.
    #[error("Could not decode bencode dictionary: {0}")]
    Bencode(#[from] DecodeError),
    /// The body is bencode but not a dictionary.
    #[error("Request is not a bencode dictionary")]
    NotADictionary,
    /// No `command` key.
    #[error("Dictionary contains no key \"command\"")]
    MissingCommand,
    /// A command this node does not implement.
    #[error("Unrecognized command: {0}")]
    UnknownCommand(String),
    /// A required key is absent (rtpengine's wording: `No call-id in message`).
    #[error("No {0} in message")]
    MissingKey(&'static str),
    /// A key holds a value of the wrong type or an invalid value.
    #[error("Invalid value for key \"{key}\": {reason}")]
    InvalidValue {
        /// The key, in its canonical spelling.
        key: &'static str,
        /// What was expected.
        reason: &'static str,
    },
}

/// Largest cookie accepted: rtpengine peers send short tokens such as
/// `5323_1`; anything longer is treated as a datagram without a cookie.
pub const MAX_COOKIE_LEN: usize = 256;

/// Splits `COOKIE SP BODY`. Trailing CR/LF after the body (as sent by
/// hand-typed test tools) is not part of the body.
pub fn split_cookie(datagram: &[u8]) -> Option<(&[u8], &[u8])> {
    let sp = datagram.iter().position(|&b| b == b' ')?;
    let cookie = &datagram[..sp];
    if cookie.is_empty()
        || cookie.len() > MAX_COOKIE_LEN
        || cookie
            .iter()
            .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
    {
        return None;
    }
    let mut body = &datagram[sp + 1..];
    while let [rest @ .., b'\r' | b'\n'] = body {
        body = rest;
    }
    Some((cookie, body))
}

/// Parses a whole datagram.
pub fn parse_request(datagram: &[u8]) -> Result<Request<'_>, RequestError<'_>> {
    let (cookie, body) = split_cookie(datagram).ok_or(RequestError::NoCookie)?;
    let (command, dict) =
        parse_command(body).map_err(|error| RequestError::Command { cookie, error })?;
    Ok(Request {
        cookie,
        command,
        dict,
    })
}

/// Parses the bencoded body of a request.
pub fn parse_command(body: &[u8]) -> Result<(Command<'_>, Dict<'_>), CommandError> {
    let Value::Dict(dict) = bencode::decode(body)? else {
        return Err(CommandError::NotADictionary);
    };
    let name = get(&dict, "command").ok_or(CommandError::MissingCommand)?;
    let name = name.as_bytes().ok_or(CommandError::InvalidValue {
        key: "command",
        reason: "expected a string",
    })?;
    let command = if name.eq_ignore_ascii_case(b"ping") {
        Command::Ping
    } else if name.eq_ignore_ascii_case(b"offer") {
        Command::Offer(Offer {
            call_id: required_str(&dict, "call-id")?,
            from_tag: required_str(&dict, "from-tag")?,
            sdp: required_sdp(&dict)?,
            options: options(&dict)?,
        })
    } else if name.eq_ignore_ascii_case(b"answer") {
        Command::Answer(Answer {
            call_id: required_str(&dict, "call-id")?,
            from_tag: required_str(&dict, "from-tag")?,
            to_tag: required_str(&dict, "to-tag")?,
            sdp: required_sdp(&dict)?,
            options: options(&dict)?,
        })
    } else if name.eq_ignore_ascii_case(b"delete") {
        Command::Delete(Delete {
            call_id: required_str(&dict, "call-id")?,
            from_tag: optional_str(&dict, "from-tag")?,
            to_tag: optional_str(&dict, "to-tag")?,
            delete_delay: optional_int(&dict, "delete-delay")?,
            options: options(&dict)?,
        })
    } else if name.eq_ignore_ascii_case(b"query") {
        Command::Query(Query {
            call_id: required_str(&dict, "call-id")?,
            from_tag: optional_str(&dict, "from-tag")?,
            to_tag: optional_str(&dict, "to-tag")?,
        })
    } else {
        let shown: String = String::from_utf8_lossy(name).chars().take(64).collect();
        return Err(CommandError::UnknownCommand(shown));
    };
    Ok((command, dict))
}

/// Key equality as rtpengine has it: ASCII case-insensitive, with `-`, `_`
/// and space interchangeable.
pub fn key_eq(raw: &[u8], canonical: &str) -> bool {
    fn norm(b: u8) -> u8 {
        match b {
            b'_' | b' ' => b'-',
            b => b.to_ascii_lowercase(),
        }
    }
    raw.len() == canonical.len()
        && raw
            .iter()
            .zip(canonical.bytes())
            .all(|(&a, b)| norm(a) == norm(b))
}

/// The first value under `key` in any accepted spelling.
pub fn get<'d, 'a>(dict: &'d Dict<'a>, key: &str) -> Option<&'d Value<'a>> {
    dict.find(|k| key_eq(k, key))
}

fn optional_str<'a>(dict: &Dict<'a>, key: &'static str) -> Result<Option<&'a str>, CommandError> {
    match get(dict, key) {
        None => Ok(None),
        Some(v) => v.as_str().map(Some).ok_or(CommandError::InvalidValue {
            key,
            reason: "expected a UTF-8 string",
        }),
    }
}

fn required_str<'a>(dict: &Dict<'a>, key: &'static str) -> Result<&'a str, CommandError> {
    match optional_str(dict, key)? {
        Some(s) if !s.is_empty() => Ok(s),
        _ => Err(CommandError::MissingKey(key)),
    }
}

fn required_sdp<'a>(dict: &Dict<'a>) -> Result<&'a [u8], CommandError> {
    match get(dict, "sdp") {
        None => Err(CommandError::MissingKey("SDP body")),
        Some(v) => match v.as_bytes() {
            Some(b) if !b.is_empty() => Ok(b),
            Some(_) => Err(CommandError::MissingKey("SDP body")),
            None => Err(CommandError::InvalidValue {
                key: "sdp",
                reason: "expected a string",
            }),
        },
    }
}

fn optional_int(dict: &Dict<'_>, key: &'static str) -> Result<Option<i64>, CommandError> {
    match get(dict, key) {
        None => Ok(None),
        Some(Value::Int(i)) => Ok(Some(*i)),
        // Some proxies send numbers as strings.
        Some(v) => v
            .as_str()
            .and_then(|s| s.trim().parse().ok())
            .map(Some)
            .ok_or(CommandError::InvalidValue {
                key,
                reason: "expected an integer",
            }),
    }
}

/// A list of strings; a single string is taken as a one-item list.
fn str_list<'a>(dict: &Dict<'a>, key: &'static str) -> Result<Vec<&'a str>, CommandError> {
    let bad = CommandError::InvalidValue {
        key,
        reason: "expected a list of strings",
    };
    match get(dict, key) {
        None => Ok(Vec::new()),
        Some(Value::List(items)) => items
            .iter()
            .map(|v| v.as_str().ok_or(bad.clone()))
            .collect(),
        Some(v) => v.as_str().map(|s| vec![s]).ok_or(bad),
    }
}

fn options<'a>(dict: &Dict<'a>) -> Result<Options<'a>, CommandError> {
    let flags = str_list(dict, "flags")?;
    let mut replace = str_list(dict, "replace")?;
    for f in &flags {
        let b = f.as_bytes();
        if b.len() > 8 && key_eq(&b[..8], "replace-") {
            replace.push(&f[8..]);
        }
    }
    let received_from = match get(dict, "received-from") {
        None => None,
        Some(v) => {
            let bad = CommandError::InvalidValue {
                key: "received-from",
                reason: "expected [\"IP4\"|\"IP6\", address]",
            };
            let items = v.as_list().ok_or(bad.clone())?;
            let [family, addr] = items else {
                return Err(bad);
            };
            let family = family.as_str().and_then(parse_family).ok_or(bad.clone())?;
            let ip: IpAddr = addr
                .as_str()
                .and_then(|a| a.parse().ok())
                .ok_or(bad.clone())?;
            if AddressFamily::of(ip) != family {
                return Err(bad);
            }
            Some(ip)
        }
    };
    let address_family = match optional_str(dict, "address-family")? {
        None => None,
        Some(s) => Some(parse_family(s).ok_or(CommandError::InvalidValue {
            key: "address-family",
            reason: "expected IP4 or IP6",
        })?),
    };
    let media_address = match optional_str(dict, "media-address")? {
        None => None,
        Some(s) => Some(s.parse().map_err(|_| CommandError::InvalidValue {
            key: "media-address",
            reason: "expected an IP address",
        })?),
    };
    let record_call = match optional_str(dict, "record-call")? {
        None => None,
        Some(s) if s.eq_ignore_ascii_case("yes") || s.eq_ignore_ascii_case("on") => Some(true),
        Some(s) if s.eq_ignore_ascii_case("no") || s.eq_ignore_ascii_case("off") => Some(false),
        Some(_) => {
            return Err(CommandError::InvalidValue {
                key: "record-call",
                reason: "expected yes or no",
            })
        }
    };
    Ok(Options {
        via_branch: optional_str(dict, "via-branch")?,
        codec: CodecRules::parse(get(dict, "codec"), &flags)?,
        flags,
        replace,
        direction: str_list(dict, "direction")?,
        ice: optional_str(dict, "ICE")?,
        transport_protocol: optional_str(dict, "transport-protocol")?,
        received_from,
        address_family,
        media_address,
        rtcp_mux: str_list(dict, "rtcp-mux")?,
        record_call,
        label: optional_str(dict, "label")?,
        supports: str_list(dict, "supports")?,
    })
}

fn parse_family(s: &str) -> Option<AddressFamily> {
    if s.eq_ignore_ascii_case("IP4") {
        Some(AddressFamily::Ip4)
    } else if s.eq_ignore_ascii_case("IP6") {
        Some(AddressFamily::Ip6)
    } else {
        None
    }
}

/// Packet, byte and error counters of one direction or kind of traffic.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Packets.
    pub packets: u64,
    /// Bytes (payload and headers above UDP).
    pub bytes: u64,
    /// Malformed or dropped packets.
    pub errors: u64,
}

/// Statistics of one leg (one tag) of a call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TagStats {
    /// The SIP tag naming the leg.
    pub tag: String,
    /// The NG `label` the proxy gave this side in its offer or answer.
    pub label: Option<String>,
    /// When the leg was created (Unix seconds).
    pub created: i64,
    /// Per media section: the node's local RTP port, the peer's address
    /// (after latching) if known, and RTP counters received from the peer.
    pub media: Vec<MediaStats>,
}

/// Statistics of one media section of a leg.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MediaStats {
    /// The node's local RTP port.
    pub local_port: u16,
    /// Where the peer sends from / receives on, when known.
    pub peer: Option<std::net::SocketAddr>,
    /// RTP received from the peer.
    pub rtp: Counters,
    /// RTCP received from the peer.
    pub rtcp: Counters,
    /// How the peer's RTP arrived (RFC 3550 receive statistics).
    pub quality: ReceiveQuality,
    /// The section's codec as rtpengine reports it (`PCMU/8000`): the
    /// first of this side's last SDP, or once answered the answerer's
    /// pick; none for T.38 and the like.
    pub codec: Option<String>,
    /// The scores of the RTCP receiver reports the peer sent, once one
    /// could be scored: the quality of what it heard.
    pub mos: Option<MosStats>,
    /// The section's media type (`audio`, `video`, `image`), from this
    /// side's last SDP.
    pub kind: String,
    /// Its transport protocol (`RTP/AVP`, `udptl`), from the same SDP.
    pub protocol: String,
    /// This side's SDP says it sends media in the section (rtpengine's
    /// `send` flag).
    pub sends: bool,
    /// It says it takes media (`recv`).
    pub receives: bool,
    /// RTCP is multiplexed on the RTP port (both sides offered it).
    pub rtcp_mux: bool,
    /// When the peer's last RTP packet came, Unix seconds.
    pub last_packet: Option<i64>,
}

/// What one end's RTCP receiver reports scored over a call (the
/// simplified ITU-T G.107 E-model rtpengine uses), in the shape of
/// rtpengine's `SSRC` entries that Kamailio's `mos_*_pv` read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MosStats {
    /// The SSRC the end reports from (the entry's key).
    pub ssrc: u32,
    /// Cumulative loss it last reported of the stream it receives.
    pub cumulative_lost: i64,
    /// The mean of its scored reports (`samples` of them).
    pub average: MosEntry,
    /// Reports scored.
    pub samples: u32,
    /// The lowest-scored report.
    pub lowest: MosEntry,
    /// The highest-scored report.
    pub highest: MosEntry,
}

/// One scored report (or their mean), in rtpengine's units.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MosEntry {
    /// The score times ten (`MOS`: 44 is 4.4).
    pub mos_x10: u8,
    /// End-to-end round trip, µs (`round-trip time`).
    pub rtt_us: u32,
    /// Round trip between the node and this end, µs (`round-trip time
    /// leg`).
    pub rtt_leg_us: u32,
    /// Jitter the end reported, ms.
    pub jitter_ms: u32,
    /// Fraction lost the end reported, percent (`packet loss`).
    pub loss_percent: u8,
    /// When the report came, Unix seconds (`reported at`; 0 for the mean).
    pub reported_at: i64,
}

impl std::fmt::Display for MediaStats {
    /// One line for logs: where the media came from, to which local port,
    /// and how it arrived.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.peer {
            Some(p) => write!(f, "{p}")?,
            None => f.write_str("no peer")?,
        }
        write!(f, " -> port {}", self.local_port)?;
        if let Some(c) = &self.codec {
            write!(f, " ({c})")?;
        }
        let q = &self.quality;
        write!(
            f,
            ": {} packets, {} lost, {} duplicates, {} late, jitter {}.{} ms, {} errors",
            self.rtp.packets,
            q.lost,
            q.duplicates,
            q.out_of_order,
            q.jitter_us / 1000,
            q.jitter_us % 1000 / 100,
            self.rtp.errors,
        )?;
        if let Some(m) = &self.mos {
            let tenths = |x: u32| format!("{}.{}", x / 10, x % 10);
            write!(
                f,
                ", MOS {} (low {}, reports {}, round trip {} ms)",
                tenths(m.average.mos_x10.into()),
                tenths(m.lowest.mos_x10.into()),
                m.samples,
                tenths(m.average.rtt_us / 100),
            )?;
        }
        Ok(())
    }
}

/// The node's own RFC 3550 receive statistics of the RTP a peer sent: what
/// a dialer needs to judge a call's audio without RTCP from the phones.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReceiveQuality {
    /// The SSRC of the latest stream received, once one was.
    pub ssrc: Option<u32>,
    /// Packets lost on the way to the node (expected minus received).
    pub lost: u64,
    /// Packets received twice.
    pub duplicates: u64,
    /// Packets that arrived after a later one (late, not lost).
    pub out_of_order: u64,
    /// Interarrival jitter (RFC 3550 A.8), microseconds.
    pub jitter_us: u64,
}

/// What `query` (and `delete`) report, in rtpengine's shape: `created`,
/// `last signal`, `tags`, `totals`; each tag's `medias` carry their
/// `streams` (RTP, then RTCP: `local port`, `endpoint`, `stats`) as
/// rtpengine's do, beside their own `endpoint`, `RTP` and `RTCP`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallStats {
    /// When the call was created (Unix seconds).
    pub created: i64,
    /// When it last saw a signalling command (Unix seconds).
    pub last_signal: i64,
    /// Legs.
    pub tags: Vec<TagStats>,
    /// RTP totals over all legs.
    pub rtp: Counters,
    /// RTCP totals over all legs.
    pub rtcp: Counters,
    /// Detector events of the call's legs, oldest first (a ringwire
    /// extension: encoded as an `events` list only when not empty).
    pub events: Vec<DetectorEvent>,
}

/// One detector event as `query` reports it: a dict with `type`, `tag`,
/// `leg`, `media time` (ms from the leg's first packet), `wall time` (Unix
/// ms) and the detector's own fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DetectorEvent {
    /// `dtmf`, `amd` or `beep`.
    pub kind: &'static str,
    /// The tag of the side whose media it was found in.
    pub tag: String,
    /// The relay leg.
    pub leg: u64,
    /// Media time, ms from the leg's first packet.
    pub media_ms: u64,
    /// Wall-clock time of the detection, Unix ms.
    pub wall_ms: u64,
    /// The detector's fields (`digit`, `source`, `verdict`, ...).
    pub fields: Vec<(&'static str, EventField)>,
}

/// A value of a [`DetectorEvent`] field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventField {
    /// A string.
    Str(String),
    /// An integer.
    Int(i64),
}

/// An NG reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `{"result":"pong"}`.
    Pong,
    /// `{"result":"ok"}`, with the rewritten SDP for offer and answer.
    Ok {
        /// The rewritten SDP.
        sdp: Option<Vec<u8>>,
        /// Something asked that was not done (a codec option that could
        /// not be followed), as rtpengine's `warning`.
        warning: Option<String>,
    },
    /// `{"result":"ok", created, last signal, tags, totals}`.
    Stats(CallStats),
    /// `{"result":"error","error-reason":...}`.
    Error(String),
    /// `{"result":"ok","warning":...}`: nothing to do, and no error (a
    /// `delete` of a call already gone, as rtpengine answers it).
    Warning(String),
    /// `{"result":"load limit","message":...}`: this node takes no new
    /// call now, another may (rtpengine's reply when over its limits).
    LoadLimit(String),
}

impl Reply {
    /// Appends `COOKIE SP BENCODED-DICT` to `out`.
    pub fn encode(&self, cookie: &[u8], out: &mut Vec<u8>) {
        out.extend_from_slice(cookie);
        out.push(b' ');
        self.encode_body(out);
    }

    /// Appends the bencoded reply dictionary (no cookie) to `out`.
    pub fn encode_body(&self, out: &mut Vec<u8>) {
        let mut d = Dict::new();
        match self {
            Reply::Pong => {
                d.insert("result", "pong");
                d.encode(out);
            }
            Reply::Ok { sdp, warning } => {
                d.insert("result", "ok");
                if let Some(sdp) = sdp {
                    d.insert("sdp", sdp.as_slice());
                }
                if let Some(w) = warning {
                    d.insert("warning", w.as_str());
                }
                d.encode(out);
            }
            Reply::Error(reason) => {
                d.insert("result", "error");
                d.insert("error-reason", reason.as_str());
                d.encode(out);
            }
            Reply::Warning(warning) => {
                d.insert("result", "ok");
                d.insert("warning", warning.as_str());
                d.encode(out);
            }
            Reply::LoadLimit(message) => {
                d.insert("result", "load limit");
                d.insert("message", message.as_str());
                d.encode(out);
            }
            Reply::Stats(s) => encode_stats(s, out),
        }
    }
}

fn counters_dict(c: &Counters) -> Dict<'static> {
    let mut d = Dict::new();
    d.insert("packets", c.packets.min(i64::MAX as u64) as i64)
        .insert("bytes", c.bytes.min(i64::MAX as u64) as i64)
        .insert("errors", c.errors.min(i64::MAX as u64) as i64);
    d
}

/// An RTP stream's `stats`: rtpengine's `packets`, `bytes` and `errors`,
/// then the node's receive statistics (`lost`, `duplicates`, `out of
/// order`, and `jitter` in ms as rtpengine's MOS entries give it, with
/// `jitter us` beside it for links where it stays under a millisecond).
fn quality_dict(c: &Counters, q: &ReceiveQuality) -> Dict<'static> {
    let clamp = |n: u64| n.min(i64::MAX as u64) as i64;
    let mut d = counters_dict(c);
    d.insert("lost", clamp(q.lost))
        .insert("duplicates", clamp(q.duplicates))
        .insert("out of order", clamp(q.out_of_order))
        .insert("jitter", clamp((q.jitter_us + 500) / 1000))
        .insert("jitter us", clamp(q.jitter_us));
    d
}

/// An `endpoint` dict as rtpengine writes it: `family` (when known),
/// `address`, `port` (empty, and port 0, while the peer is unknown).
fn endpoint_dict<'a>(peer: Option<std::net::SocketAddr>, ip: &'a str, port: i64) -> Dict<'a> {
    let mut d = Dict::new();
    if let Some(p) = peer {
        d.insert("family", if p.is_ipv4() { "IPv4" } else { "IPv6" });
    }
    d.insert("address", ip).insert("port", port);
    d
}

/// A media section's `flags` as rtpengine lists them: `send` and `recv`
/// as its side's SDP has them, and `rtcp-mux`.
fn media_flags(m: &MediaStats) -> Value<'static> {
    let flags = [
        (m.sends, "send"),
        (m.receives, "recv"),
        (m.rtcp_mux, "rtcp-mux"),
    ];
    Value::List(
        flags
            .into_iter()
            .filter(|(on, _)| *on)
            .map(|(_, f)| f.into())
            .collect(),
    )
}

/// A media section's `streams` list in rtpengine's shape: its RTP stream
/// (`local port`, the peer's `endpoint`, the latest `SSRC` received, RTP
/// `stats` with the node's receive statistics) and its RTCP stream
/// (the next local port, RTCP `stats`; the node keeps no RTCP peer apart).
fn streams<'a>(m: &MediaStats, rtp_endpoint: Dict<'a>) -> Value<'a> {
    let stream = |local: u16, kind: &'static str| {
        let mut d = Dict::new();
        d.insert("local port", i64::from(local))
            .insert("flags", Value::List(vec![kind.into()]));
        d
    };
    let mut rtp = stream(m.local_port, "RTP");
    rtp.insert("endpoint", rtp_endpoint);
    if let Some(t) = m.last_packet {
        rtp.insert("last packet", t);
    }
    if let Some(ssrc) = m.quality.ssrc {
        rtp.insert("SSRC", i64::from(ssrc));
    }
    rtp.insert("stats", quality_dict(&m.rtp, &m.quality));
    let mut rtcp = stream(m.local_port.wrapping_add(1), "RTCP");
    rtcp.insert("stats", counters_dict(&m.rtcp));
    Value::List(vec![Value::Dict(rtp), Value::Dict(rtcp)])
}

/// A MOS entry's fields in rtpengine's names; `reported at` only for a
/// single report.
fn mos_entry_dict(e: &MosEntry, samples: Option<u32>) -> Dict<'static> {
    let mut d = Dict::new();
    d.insert("MOS", i64::from(e.mos_x10))
        .insert("round-trip time", i64::from(e.rtt_us))
        .insert("round-trip time leg", i64::from(e.rtt_leg_us))
        .insert("jitter", i64::from(e.jitter_ms))
        .insert("packet loss", i64::from(e.loss_percent));
    match samples {
        Some(n) => d.insert("samples", i64::from(n)),
        None => d.insert("reported at", e.reported_at),
    };
    d
}

/// The keys and scores of the top-level `SSRC` dict: each SSRC the
/// call's peers sent or reported from, in order, with the scores of an
/// end's reports under the SSRC it reports from (rtpengine's shape).
fn ssrc_entries(s: &CallStats) -> Vec<(String, Option<&MosStats>)> {
    let medias = || s.tags.iter().flat_map(|t| &t.media);
    let mut entries: std::collections::BTreeMap<u32, Option<&MosStats>> = medias()
        .filter_map(|m| m.quality.ssrc)
        .map(|ssrc| (ssrc, None))
        .collect();
    for m in medias().filter_map(|m| m.mos.as_ref()) {
        entries.insert(m.ssrc, Some(m));
    }
    entries
        .into_iter()
        .map(|(ssrc, mos)| (ssrc.to_string(), mos))
        .collect()
}

/// The `SSRC` dict: an entry per SSRC, empty while unscored.
fn ssrc_dict<'a>(entries: &'a [(String, Option<&MosStats>)]) -> Dict<'a> {
    let mut d = Dict::new();
    for (ssrc, mos) in entries {
        let mut e = Dict::new();
        if let Some(m) = mos {
            e.insert("cumulative loss", m.cumulative_lost)
                .insert("average MOS", mos_entry_dict(&m.average, Some(m.samples)))
                .insert("lowest MOS", mos_entry_dict(&m.lowest, None))
                .insert("highest MOS", mos_entry_dict(&m.highest, None));
        }
        d.insert(ssrc, e);
    }
    d
}

fn encode_stats(s: &CallStats, out: &mut Vec<u8>) {
    let ssrcs = ssrc_entries(s);
    let peers: Vec<Vec<(String, i64)>> = s
        .tags
        .iter()
        .map(|t| {
            t.media
                .iter()
                .map(|m| match m.peer {
                    Some(p) => (p.ip().to_string(), i64::from(p.port())),
                    None => (String::new(), 0),
                })
                .collect()
        })
        .collect();
    let mut tags = Dict::new();
    for (t, peers) in s.tags.iter().zip(&peers) {
        let mut medias = Vec::new();
        for (i, (m, (ip, port))) in t.media.iter().zip(peers).enumerate() {
            let mut md = Dict::new();
            md.insert("index", i as i64 + 1);
            if !m.kind.is_empty() {
                md.insert("type", m.kind.as_str());
            }
            if !m.protocol.is_empty() {
                md.insert("protocol", m.protocol.as_str());
            }
            if let Some(codec) = &m.codec {
                md.insert("codec", codec.as_str());
            }
            md.insert("flags", media_flags(m));
            md.insert("local port", i64::from(m.local_port))
                .insert("endpoint", endpoint_dict(m.peer, ip, *port))
                .insert("RTP", quality_dict(&m.rtp, &m.quality))
                .insert("RTCP", counters_dict(&m.rtcp))
                .insert("streams", streams(m, endpoint_dict(m.peer, ip, *port)));
            medias.push(Value::Dict(md));
        }
        let mut td = Dict::new();
        td.insert("tag", t.tag.as_str());
        if let Some(label) = &t.label {
            td.insert("label", label.as_str());
        }
        td.insert("created", t.created)
            .insert("medias", Value::List(medias));
        tags.insert(t.tag.as_str(), td);
    }
    let mut totals = Dict::new();
    totals
        .insert("RTP", counters_dict(&s.rtp))
        .insert("RTCP", counters_dict(&s.rtcp));
    let mut d = Dict::new();
    d.insert("result", "ok")
        .insert("created", s.created)
        .insert("last signal", s.last_signal)
        .insert("SSRC", ssrc_dict(&ssrcs))
        .insert("tags", tags)
        .insert("totals", totals);
    if !s.events.is_empty() {
        let events = s
            .events
            .iter()
            .map(|e| {
                let mut ed = Dict::new();
                ed.insert("type", e.kind)
                    .insert("tag", e.tag.as_str())
                    .insert("leg", e.leg.min(i64::MAX as u64) as i64)
                    .insert("media time", e.media_ms.min(i64::MAX as u64) as i64)
                    .insert("wall time", e.wall_ms.min(i64::MAX as u64) as i64);
                for (k, v) in &e.fields {
                    match v {
                        EventField::Str(s) => ed.insert(k, s.as_str()),
                        EventField::Int(i) => ed.insert(k, *i),
                    };
                }
                Value::Dict(ed)
            })
            .collect();
        d.insert("events", Value::List(events));
    }
    d.encode(out);
}
