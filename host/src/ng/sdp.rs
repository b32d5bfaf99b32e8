//! SDP for the NG protocol: read what the relay core needs from an offer or
//! answer, and rewrite it so its media goes through the node.
//!
//! The rewrite is line based: only the lines it must change (`c=`, `m=`
//! ports, `a=rtcp:`, `o=` when asked, ICE attributes when asked) are
//! touched; every other byte, including each line's own ending (CRLF or a
//! bare LF) and attributes this module does not know, is copied unchanged.
//! (`sdp-types` round-trips byte-identically too, but parsing into owned
//! structs and serialising again is more than a handful of line edits
//! needs, and this keeps odd line endings exactly as received.)

use std::net::IpAddr;

use thiserror::Error;

/// Why an SDP body cannot be read or rewritten. Lines are numbered from 1.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SdpError {
    /// The body is empty or does not start with `v=`.
    #[error("SDP does not start with v=")]
    NoVersion,
    /// A line that is not `<letter>=<value>`.
    #[error("SDP line {line} is not of the form x=value")]
    BadLine {
        /// Line number.
        line: usize,
    },
    /// A line this module must read is not UTF-8.
    #[error("SDP line {line} is not UTF-8")]
    NotUtf8 {
        /// Line number.
        line: usize,
    },
    /// A malformed `c=` line.
    #[error("SDP line {line}: malformed connection (c=) line")]
    BadConnection {
        /// Line number.
        line: usize,
    },
    /// A malformed `m=` line.
    #[error("SDP line {line}: malformed media (m=) line")]
    BadMedia {
        /// Line number.
        line: usize,
    },
    /// A malformed `o=` line.
    #[error("SDP line {line}: malformed origin (o=) line")]
    BadOrigin {
        /// Line number.
        line: usize,
    },
    /// A malformed `a=rtpmap:`, `a=rtcp:` or `a=ptime:` attribute.
    #[error("SDP line {line}: malformed a={attribute} attribute")]
    BadAttribute {
        /// Line number.
        line: usize,
        /// The attribute name.
        attribute: &'static str,
    },
    /// The allocation names a different number of media sections than the
    /// SDP has.
    #[error("SDP has {sdp} media sections, {allocated} were allocated")]
    MediaCountMismatch {
        /// Media sections in the SDP.
        sdp: usize,
        /// Entries in the allocation.
        allocated: usize,
    },
}

/// Address type of a `c=`, `o=` or `a=rtcp:` address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddrType {
    /// `IP4`.
    Ip4,
    /// `IP6`.
    Ip6,
}

impl AddrType {
    /// The address type naming `ip`'s family.
    pub fn of(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(_) => AddrType::Ip4,
            IpAddr::V6(_) => AddrType::Ip6,
        }
    }

    /// `IP4` or `IP6`.
    pub fn as_str(self) -> &'static str {
        match self {
            AddrType::Ip4 => "IP4",
            AddrType::Ip6 => "IP6",
        }
    }
}

/// A `c=` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection<'a> {
    /// `IP4` or `IP6`.
    pub addr_type: AddrType,
    /// The address as written, without a multicast `/ttl` suffix (may be a
    /// host name).
    pub address: &'a str,
    /// The address when it is a literal of the declared family.
    pub ip: Option<IpAddr>,
}

/// An `a=rtpmap:` attribute, or the static default of a well-known payload
/// type that has none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayloadType<'a> {
    /// RTP payload type number (0..=127).
    pub pt: u8,
    /// Encoding name as written (`PCMU`, `telephone-event`, ...).
    pub encoding: &'a str,
    /// Clock rate in Hz.
    pub clock_rate: u32,
    /// Channels, when given.
    pub channels: Option<u16>,
}

/// A direction attribute (`a=sendrecv`, `a=sendonly`, `a=recvonly`,
/// `a=inactive`; RFC 4566 section 6, RFC 3264 section 5.1): whether the
/// side whose SDP it is sends media, and whether it takes media.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Direction {
    /// Both ways: the default where no attribute says otherwise.
    #[default]
    SendRecv,
    /// Sends, takes nothing (a side that puts the other on hold).
    SendOnly,
    /// Takes media, sends none (a side put on hold).
    RecvOnly,
    /// Neither.
    Inactive,
}

impl Direction {
    /// The attribute named by `attr` (after `a=`), if it is one.
    pub fn from_attribute(attr: &[u8]) -> Option<Direction> {
        match attr.trim_ascii_end() {
            b"sendrecv" => Some(Direction::SendRecv),
            b"sendonly" => Some(Direction::SendOnly),
            b"recvonly" => Some(Direction::RecvOnly),
            b"inactive" => Some(Direction::Inactive),
            _ => None,
        }
    }

    /// Whether the side sends media.
    pub fn sends(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::SendOnly)
    }

    /// Whether the side takes media.
    pub fn receives(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::RecvOnly)
    }

    /// The same, without taking media (a side whose address is a
    /// wildcard: the old way to put a call on hold, RFC 3264 section 8.4).
    pub fn without_receiving(self) -> Direction {
        match self {
            Direction::SendRecv | Direction::SendOnly => Direction::SendOnly,
            Direction::RecvOnly | Direction::Inactive => Direction::Inactive,
        }
    }
}

/// One `m=` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Media<'a> {
    /// `audio`, `video`, ...
    pub kind: &'a str,
    /// The port the remote side sends from and receives on (0: disabled).
    pub port: u16,
    /// Transport protocol (`RTP/AVP`, ...).
    pub proto: &'a str,
    /// Formats in order of preference, as written.
    pub formats: Vec<&'a str>,
    /// The media-level `c=` line, if any.
    pub connection: Option<Connection<'a>>,
    /// `a=rtcp:` port and, when given, address.
    pub rtcp: Option<(u16, Option<Connection<'a>>)>,
    /// Payload types: each numeric format with its `a=rtpmap:`, or the
    /// static default for 0 (PCMU), 3 (GSM), 8 (PCMA), 9 (G722), 13 (CN),
    /// 18 (G729); numeric formats with neither are left out.
    pub payload_types: Vec<PayloadType<'a>>,
    /// `a=ptime:` in milliseconds.
    pub ptime: Option<u32>,
    /// `a=rtcp-mux`: the side will multiplex RTCP onto the RTP port if the
    /// other side's SDP says so too (RFC 5761).
    pub rtcp_mux: bool,
    /// The section's own direction attribute, if it has one (see
    /// [`Sdp::direction`]).
    pub direction: Option<Direction>,
}

/// What the relay core needs to know from an SDP body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sdp<'a> {
    /// The session-level `c=` line, if any.
    pub connection: Option<Connection<'a>>,
    /// The `o=` address.
    pub origin_address: Option<&'a str>,
    /// Media sections in order.
    pub media: Vec<Media<'a>>,
    /// The session-level direction attribute, if any.
    pub direction: Option<Direction>,
}

impl<'a> Sdp<'a> {
    /// Reads an SDP body.
    pub fn parse(body: &'a [u8]) -> Result<Self, SdpError> {
        let mut sdp = Sdp {
            connection: None,
            origin_address: None,
            media: Vec::new(),
            direction: None,
        };
        let mut saw_version = false;
        for (n, line) in lines(body) {
            let content = line.content;
            if content.is_empty() {
                continue;
            }
            if !saw_version {
                if !content.starts_with(b"v=") {
                    return Err(SdpError::NoVersion);
                }
                saw_version = true;
                continue;
            }
            if content.len() < 2 || content[1] != b'=' {
                return Err(SdpError::BadLine { line: n });
            }
            match content[0] {
                b'o' if sdp.media.is_empty() => {
                    let (_, addr) = parse_origin(utf8(content, n)?, n)?;
                    sdp.origin_address = Some(addr);
                }
                b'c' => {
                    let c = parse_connection(utf8(content, n)?, n)?;
                    match sdp.media.last_mut() {
                        Some(m) => m.connection = Some(c),
                        None => sdp.connection = Some(c),
                    }
                }
                b'm' => {
                    let (kind, port, proto, formats) = parse_media(utf8(content, n)?, n)?;
                    sdp.media.push(Media {
                        kind,
                        port,
                        proto,
                        formats,
                        connection: None,
                        rtcp: None,
                        payload_types: Vec::new(),
                        ptime: None,
                        rtcp_mux: false,
                        direction: None,
                    });
                }
                b'a' => {
                    let attr = &content[2..];
                    let Some(m) = sdp.media.last_mut() else {
                        if let Some(d) = Direction::from_attribute(attr) {
                            sdp.direction = Some(d);
                        }
                        continue;
                    };
                    if let Some(d) = Direction::from_attribute(attr) {
                        m.direction = Some(d);
                        continue;
                    }
                    if let Some(v) = attr.strip_prefix(b"rtpmap:") {
                        let v = utf8(v, n)?;
                        m.payload_types
                            .push(parse_rtpmap(v).ok_or(SdpError::BadAttribute {
                                line: n,
                                attribute: "rtpmap",
                            })?);
                    } else if let Some(v) = attr.strip_prefix(b"rtcp:") {
                        m.rtcp = Some(parse_rtcp(utf8(v, n)?, n)?);
                    } else if attr.trim_ascii_end() == b"rtcp-mux" {
                        m.rtcp_mux = true;
                    } else if let Some(v) = attr.strip_prefix(b"ptime:") {
                        let p = utf8(v, n)?.trim().parse::<f32>().ok();
                        match p {
                            Some(p) if p > 0.0 && p < 10_000.0 => m.ptime = Some(p.round() as u32),
                            _ => {
                                return Err(SdpError::BadAttribute {
                                    line: n,
                                    attribute: "ptime",
                                })
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        if !saw_version {
            return Err(SdpError::NoVersion);
        }
        for m in &mut sdp.media {
            add_static_payload_types(m);
        }
        Ok(sdp)
    }

    /// The direction of media section `index`: its own attribute, else the
    /// session's, else `sendrecv` (RFC 4566 section 6).
    pub fn direction(&self, index: usize) -> Direction {
        self.media
            .get(index)
            .and_then(|m| m.direction)
            .or(self.direction)
            .unwrap_or_default()
    }

    /// Where the remote side of media section `index` receives RTP: its
    /// media-level address (or the session's) and its port.
    pub fn remote_rtp(&self, index: usize) -> Option<std::net::SocketAddr> {
        let m = self.media.get(index)?;
        let c = m.connection.as_ref().or(self.connection.as_ref())?;
        Some(std::net::SocketAddr::new(c.ip?, m.port))
    }
}

/// Ports the node allocated for one media section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaPorts {
    /// Local RTP port written into the `m=` line.
    pub rtp: u16,
    /// Local RTCP port written into `a=rtcp:` when present (default
    /// `rtp + 1`).
    pub rtcp: Option<u16>,
}

impl MediaPorts {
    /// RTP on `rtp`, RTCP on `rtp + 1`.
    pub fn rtp(rtp: u16) -> Self {
        MediaPorts { rtp, rtcp: None }
    }
}

/// How to rewrite beyond addresses and ports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RewriteOptions {
    /// Also rewrite the `o=` address (NG `replace: ["origin"]`).
    pub replace_origin: bool,
    /// Drop ICE attributes (`a=candidate`, `a=ice-ufrag`, `a=ice-pwd`,
    /// `a=ice-options`, `a=ice-lite`, `a=end-of-candidates`,
    /// `a=remote-candidates`, `a=ice-mismatch`) so the peers cannot route
    /// around the node.
    pub strip_ice: bool,
}

/// Rewrites `body` into `out` so that every `c=` line names `address`, each
/// `m=` line carries the port allocated for it (disabled sections, port 0,
/// stay disabled) and each `a=rtcp:` line the RTCP port (and `address` if it
/// named one). A media section with no `c=` under a session without one
/// gets a `c=` line after its `m=` line. Everything else is copied byte for
/// byte.
pub fn rewrite(
    body: &[u8],
    address: IpAddr,
    ports: &[MediaPorts],
    options: RewriteOptions,
    out: &mut Vec<u8>,
) -> Result<(), SdpError> {
    let parsed = Sdp::parse(body)?;
    if parsed.media.len() != ports.len() {
        return Err(SdpError::MediaCountMismatch {
            sdp: parsed.media.len(),
            allocated: ports.len(),
        });
    }
    let addr_type = AddrType::of(address).as_str();
    let addr = address.to_string();
    let mut media_index: Option<usize> = None;
    let mut media_disabled = false;
    let mut eol: &[u8] = b"\r\n";
    for (n, line) in lines(body) {
        let content = line.content;
        if line.ending.ends_with(b"\n") {
            eol = line.ending;
        }
        if content.len() >= 2 && content[1] == b'=' {
            match content[0] {
                // c=IN IP4 0.0.0.0 is a hold (RFC 2543, still sent by many
                // PBXs and phones): passed on as it is, as rtpengine does,
                // so that the other side sees the hold (and plays its
                // music on hold) instead of the node's address
                b'c' if is_hold_connection(content, n) => {}
                b'c' => {
                    out.extend_from_slice(b"c=IN ");
                    out.extend_from_slice(addr_type.as_bytes());
                    out.push(b' ');
                    out.extend_from_slice(addr.as_bytes());
                    out.extend_from_slice(line.ending);
                    continue;
                }
                b'o' if options.replace_origin && media_index.is_none() => {
                    let text = utf8(content, n)?;
                    let (head, _) = parse_origin(text, n)?;
                    out.extend_from_slice(head.as_bytes());
                    out.extend_from_slice(b" IN ");
                    out.extend_from_slice(addr_type.as_bytes());
                    out.push(b' ');
                    out.extend_from_slice(addr.as_bytes());
                    out.extend_from_slice(line.ending);
                    continue;
                }
                b'm' => {
                    let i = media_index.map_or(0, |i| i + 1);
                    media_index = Some(i);
                    let m = &parsed.media[i];
                    media_disabled = m.port == 0;
                    let text = utf8(content, n)?;
                    // m=<kind> <port>[/<count>] <rest>
                    let after_kind = text.find(' ').ok_or(SdpError::BadMedia { line: n })?;
                    let port_field = &text[after_kind + 1..];
                    let port_end = port_field
                        .find([' ', '/'])
                        .ok_or(SdpError::BadMedia { line: n })?;
                    out.extend_from_slice(&content[..after_kind + 1]);
                    let port = if media_disabled { 0 } else { ports[i].rtp };
                    out.extend_from_slice(port.to_string().as_bytes());
                    out.extend_from_slice(&port_field.as_bytes()[port_end..]);
                    if m.connection.is_none() && parsed.connection.is_none() {
                        // The inserted line needs a real line break before
                        // it; the last line may have none (or a bare CR).
                        // A CR that ends the line's content (the line ended
                        // in two) stays content only before a CR LF: a LF
                        // alone would make the two a line ending.
                        let before: &[u8] = if line.ending.ends_with(b"\n") {
                            line.ending
                        } else if content.ends_with(b"\r") {
                            b"\r\n"
                        } else {
                            eol
                        };
                        let after = line.ending;
                        out.extend_from_slice(before);
                        out.extend_from_slice(b"c=IN ");
                        out.extend_from_slice(addr_type.as_bytes());
                        out.push(b' ');
                        out.extend_from_slice(addr.as_bytes());
                        out.extend_from_slice(after);
                    } else {
                        out.extend_from_slice(line.ending);
                    }
                    continue;
                }
                b'a' => {
                    let attr = &content[2..];
                    if let (Some(i), Some(v)) = (media_index, attr.strip_prefix(b"rtcp:")) {
                        let (_, conn) = parse_rtcp(utf8(v, n)?, n)?;
                        let p = ports[i];
                        let rtcp = if media_disabled {
                            0
                        } else {
                            p.rtcp.unwrap_or(p.rtp.wrapping_add(1))
                        };
                        out.extend_from_slice(b"a=rtcp:");
                        out.extend_from_slice(rtcp.to_string().as_bytes());
                        if conn.is_some() {
                            out.extend_from_slice(b" IN ");
                            out.extend_from_slice(addr_type.as_bytes());
                            out.push(b' ');
                            out.extend_from_slice(addr.as_bytes());
                        }
                        out.extend_from_slice(line.ending);
                        continue;
                    }
                    if options.strip_ice && is_ice_attribute(attr) {
                        continue;
                    }
                }
                _ => {}
            }
        }
        out.extend_from_slice(content);
        out.extend_from_slice(line.ending);
    }
    Ok(())
}

/// Copies `body` into `out` with each media section `i` for which
/// `keep[i]` is `Some` offering only those formats, in that order: its
/// `m=` line lists them, and the `a=rtpmap:`, `a=fmtp:` and `a=rtcp-fb:`
/// lines of the payload types it no longer lists are left out. Sections
/// beyond `keep`, or `None` there, and every other line are copied byte for
/// byte. A kept format with a control character in it is
/// [`SdpError::BadMedia`].
pub fn keep_formats(
    body: &[u8],
    keep: &[Option<Vec<&str>>],
    out: &mut Vec<u8>,
) -> Result<(), SdpError> {
    let mut kept: Option<&[&str]> = None;
    let mut media_index: Option<usize> = None;
    for (n, line) in lines(body) {
        let content = line.content;
        if content.starts_with(b"m=") {
            let i = media_index.map_or(0, |i| i + 1);
            media_index = Some(i);
            kept = keep.get(i).and_then(|k| k.as_deref());
            if let Some(formats) = kept {
                // formats are tokens (RFC 4566): one with a control
                // character (a CR before a space) would not survive a
                // new order
                if formats
                    .iter()
                    .any(|f| f.bytes().any(|b| b.is_ascii_control()))
                {
                    return Err(SdpError::BadMedia { line: n });
                }
                let text = utf8(content, n)?;
                let (kind, _, proto, _) = parse_media(text, n)?;
                // the port field as written (`49170/2`), which parse_media
                // has read as a number
                let port_field = text[2..]
                    .split(' ')
                    .nth(1)
                    .ok_or(SdpError::BadMedia { line: n })?;
                out.extend_from_slice(b"m=");
                for part in [kind, port_field, proto] {
                    out.extend_from_slice(part.as_bytes());
                    out.push(b' ');
                }
                out.extend_from_slice(formats.join(" ").as_bytes());
                out.extend_from_slice(line.ending);
                continue;
            }
        } else if let (Some(formats), Some(pt)) = (kept, format_attribute(content)) {
            if !formats.iter().any(|f| f.as_bytes() == pt) {
                continue;
            }
        }
        out.extend_from_slice(content);
        out.extend_from_slice(line.ending);
    }
    Ok(())
}

/// The payload type an `a=rtpmap:`, `a=fmtp:` or `a=rtcp-fb:` line is
/// about (`a=rtcp-fb:*` is about none).
fn format_attribute(content: &[u8]) -> Option<&[u8]> {
    let attr = content.strip_prefix(b"a=")?;
    let value = [b"rtpmap:".as_slice(), b"fmtp:", b"rtcp-fb:"]
        .iter()
        .find_map(|p| attr.strip_prefix(*p))?;
    let end = value
        .iter()
        .position(|b| b.is_ascii_whitespace())
        .unwrap_or(value.len());
    Some(&value[..end]).filter(|pt| *pt != b"*")
}

/// Whether connection line `content` names the unspecified address
/// (`c=IN IP4 0.0.0.0`, `c=IN IP6 ::`): an RFC 2543 hold.
fn is_hold_connection(content: &[u8], n: usize) -> bool {
    std::str::from_utf8(content)
        .ok()
        .and_then(|text| parse_connection(text, n).ok())
        .and_then(|c| c.ip)
        .is_some_and(|ip| ip.is_unspecified())
}

fn is_ice_attribute(attr: &[u8]) -> bool {
    let name_end = attr.iter().position(|&b| b == b':').unwrap_or(attr.len());
    matches!(
        &attr[..name_end],
        b"candidate"
            | b"ice-ufrag"
            | b"ice-pwd"
            | b"ice-options"
            | b"ice-lite"
            | b"end-of-candidates"
            | b"remote-candidates"
            | b"ice-mismatch"
    )
}

struct Line<'a> {
    content: &'a [u8],
    ending: &'a [u8],
}

/// Lines with their own endings: `\r\n`, `\n`, or at the very end a bare
/// `\r` or nothing.
fn lines(body: &[u8]) -> impl Iterator<Item = (usize, Line<'_>)> {
    let mut rest = body;
    let mut n = 0;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        n += 1;
        let (content, ending, next) = match rest.iter().position(|&b| b == b'\n') {
            Some(i) => {
                let cr = i > 0 && rest[i - 1] == b'\r';
                let cstart = if cr { i - 1 } else { i };
                (&rest[..cstart], &rest[cstart..=i], &rest[i + 1..])
            }
            None => {
                let end = rest.len();
                let cstart = if rest[end - 1] == b'\r' { end - 1 } else { end };
                (&rest[..cstart], &rest[cstart..], &rest[end..])
            }
        };
        rest = next;
        Some((n, Line { content, ending }))
    })
}

fn utf8(b: &[u8], line: usize) -> Result<&str, SdpError> {
    std::str::from_utf8(b).map_err(|_| SdpError::NotUtf8 { line })
}

fn parse_addr_type(s: &str) -> Option<AddrType> {
    match s {
        "IP4" => Some(AddrType::Ip4),
        "IP6" => Some(AddrType::Ip6),
        _ => None,
    }
}

fn parse_address(addr_type: AddrType, raw: &str) -> (&str, Option<IpAddr>) {
    let address = raw.split('/').next().unwrap_or(raw);
    let ip = address
        .parse::<IpAddr>()
        .ok()
        .filter(|ip| AddrType::of(*ip) == addr_type);
    (address, ip)
}

/// `c=IN IP4 192.0.2.1` (the line including `c=`).
fn parse_connection(line: &str, n: usize) -> Result<Connection<'_>, SdpError> {
    let bad = SdpError::BadConnection { line: n };
    let mut f = line[2..].split_ascii_whitespace();
    let (Some("IN"), Some(t), Some(a), None) = (f.next(), f.next(), f.next(), f.next()) else {
        return Err(bad);
    };
    let addr_type = parse_addr_type(t).ok_or(bad)?;
    let (address, ip) = parse_address(addr_type, a);
    Ok(Connection {
        addr_type,
        address,
        ip,
    })
}

/// `o=user id version IN IP4 addr`: returns (`o=user id version`, addr).
fn parse_origin(line: &str, n: usize) -> Result<(&str, &str), SdpError> {
    let bad = SdpError::BadOrigin { line: n };
    let fields: Vec<&str> = line[2..].split(' ').collect();
    if fields.len() != 6 || fields[3] != "IN" || parse_addr_type(fields[4]).is_none() {
        return Err(bad);
    }
    let head_len = 2 + fields[..3].iter().map(|f| f.len() + 1).sum::<usize>() - 1;
    Ok((&line[..head_len], fields[5]))
}

type MediaLine<'a> = (&'a str, u16, &'a str, Vec<&'a str>);

/// `m=audio 49170 RTP/AVP 0 8 101`.
fn parse_media(line: &str, n: usize) -> Result<MediaLine<'_>, SdpError> {
    let bad = || SdpError::BadMedia { line: n };
    let mut f = line[2..].split(' ');
    let kind = f.next().filter(|k| !k.is_empty()).ok_or_else(bad)?;
    let port_field = f.next().ok_or_else(bad)?;
    let port_str = port_field.split('/').next().unwrap_or(port_field);
    let port = port_str.parse::<u16>().map_err(|_| bad())?;
    let proto = f.next().filter(|p| !p.is_empty()).ok_or_else(bad)?;
    let formats: Vec<&str> = f.filter(|s| !s.is_empty()).collect();
    if formats.is_empty() {
        return Err(bad());
    }
    Ok((kind, port, proto, formats))
}

/// `101 telephone-event/8000[/1]`.
fn parse_rtpmap(v: &str) -> Option<PayloadType<'_>> {
    let (pt, rest) = v.trim().split_once(' ')?;
    let pt = pt.parse::<u8>().ok().filter(|pt| *pt < 128)?;
    let mut parts = rest.trim().split('/');
    let encoding = parts.next().filter(|e| !e.is_empty())?;
    let clock_rate = parts.next()?.parse::<u32>().ok()?;
    let channels = match parts.next() {
        Some(c) => Some(c.parse::<u16>().ok()?),
        None => None,
    };
    if parts.next().is_some() {
        return None;
    }
    Some(PayloadType {
        pt,
        encoding,
        clock_rate,
        channels,
    })
}

/// `a=rtcp:53020 [IN IP4 126.16.64.4]` (the value after `rtcp:`).
#[allow(clippy::type_complexity)]
fn parse_rtcp(v: &str, n: usize) -> Result<(u16, Option<Connection<'_>>), SdpError> {
    let bad = SdpError::BadAttribute {
        line: n,
        attribute: "rtcp",
    };
    let mut f = v.split_ascii_whitespace();
    let port = f
        .next()
        .and_then(|p| p.parse::<u16>().ok())
        .ok_or(bad.clone())?;
    match (f.next(), f.next(), f.next(), f.next()) {
        (None, ..) => Ok((port, None)),
        (Some("IN"), Some(t), Some(a), None) => {
            let addr_type = parse_addr_type(t).ok_or(bad)?;
            let (address, ip) = parse_address(addr_type, a);
            Ok((
                port,
                Some(Connection {
                    addr_type,
                    address,
                    ip,
                }),
            ))
        }
        _ => Err(bad),
    }
}

fn add_static_payload_types(m: &mut Media<'_>) {
    let mut out = Vec::new();
    for f in &m.formats {
        let Ok(pt) = f.parse::<u8>() else { continue };
        if let Some(p) = m.payload_types.iter().find(|p| p.pt == pt) {
            out.push(p.clone());
            continue;
        }
        let (encoding, clock_rate) = match pt {
            0 => ("PCMU", 8000),
            3 => ("GSM", 8000),
            8 => ("PCMA", 8000),
            9 => ("G722", 8000),
            13 => ("CN", 8000),
            18 => ("G729", 8000),
            _ => continue,
        };
        out.push(PayloadType {
            pt,
            encoding,
            clock_rate,
            channels: None,
        });
    }
    m.payload_types = out;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_keep_endings() {
        let v: Vec<_> = lines(b"a\r\nb\nc")
            .map(|(_, l)| (l.content, l.ending))
            .collect();
        assert_eq!(
            v,
            vec![
                (&b"a"[..], &b"\r\n"[..]),
                (&b"b"[..], &b"\n"[..]),
                (&b"c"[..], &b""[..])
            ]
        );
    }

    #[test]
    fn rtpmap_forms() {
        let p = parse_rtpmap("101 telephone-event/8000").unwrap();
        assert_eq!(
            (p.pt, p.encoding, p.clock_rate),
            (101, "telephone-event", 8000)
        );
        assert_eq!(parse_rtpmap("111 opus/48000/2").unwrap().channels, Some(2));
        assert!(parse_rtpmap("200 x/8000").is_none());
        assert!(parse_rtpmap("0 PCMU").is_none());
    }
}
