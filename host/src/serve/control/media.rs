//! How a request's SDP becomes relay legs: the checks a request passes
//! before anything changes, then each media section's pair of legs, new or
//! moved, bridged, with their detectors.

use std::net::{IpAddr, SocketAddr};

use ringwire_media::relay::{
    payload_type_mask, CallId, Command, Latching, LegId, LegSpec, LocalPort, Transport,
};

use super::room::BoundPair;
use super::{other, MediaLeg, Node, MAX_MEDIA_SECTIONS};
use crate::live::{telephone_event_pt, DetectorSet, TapControl, LIVE_TAP};
use crate::ng::codec::first_codec;
use crate::ng::command::AddressFamily;
use crate::ng::short_name::ShortName;
use crate::ng::{ControlError, MediaPorts, Options, Sdp};

impl Node {
    /// Adds one leg to `call` on a pair bound for it ([`Node::bind_pairs`]).
    fn add_leg(
        &mut self,
        call: CallId,
        (p, sockets): BoundPair,
        remote: (Option<SocketAddr>, Option<SocketAddr>),
        payload_types: Vec<u8>,
        clock_rate: u32,
        transport: Transport,
    ) -> Result<MediaLeg, ControlError> {
        let leg = LegId(self.next_leg);
        self.next_leg += 1;
        let spec = LegSpec {
            rtp: LocalPort(p),
            rtcp: LocalPort(p + 1),
            remote_rtp: remote.0,
            remote_rtcp: remote.1,
            payload_types: payload_types.clone(),
            clock_rate,
            transport,
            latching: Latching::Protected,
        };
        if let Err(e) = self.driver.add_leg(call, leg, spec, sockets) {
            self.ports.free(p);
            return Err(other(e));
        }
        Ok(MediaLeg {
            leg,
            rtp: p,
            rtcp: p + 1,
            sdp_remote: remote.0.is_some().then_some(remote),
            // the driver took these types: all below 128
            pt_mask: payload_type_mask(&payload_types).unwrap_or_default(),
            transport,
            latching: Latching::Protected,
            offers_mux: false,
            muxed: false,
            flow: None,
            codec: None,
            kind: ShortName::default(),
            proto: ShortName::default(),
        })
    }

    /// Tells both legs of section `i` of `call_id` what they carry now.
    fn set_transport(
        &mut self,
        call_id: &str,
        i: usize,
        transport: Transport,
    ) -> Result<(), ControlError> {
        let call = self
            .calls
            .get_mut(call_id)
            .ok_or(ControlError::UnknownCall)?;
        let id = call.id;
        let mut legs = Vec::with_capacity(2);
        for side in &mut call.sides {
            if let Some(Some(m)) = side.media.get_mut(i) {
                m.transport = transport;
                legs.push(m.leg);
            }
        }
        for leg in legs {
            self.driver
                .command(id, Command::SetTransport { leg, transport })
                .map_err(other)?;
        }
        Ok(())
    }

    /// RTCP multiplexing for section `i` of a call: both sides' SDPs carry
    /// `a=rtcp-mux` (the node passes it through, so they negotiate it with
    /// each other, RFC 5761); each leg is told when that changes.
    fn negotiate_rtcp_mux(
        &mut self,
        call_id: &str,
        i: usize,
        legs: [(usize, MediaLeg); 2],
    ) -> Result<(), ControlError> {
        let id = self.calls[call_id].id;
        let mux = legs.iter().all(|(_, l)| l.offers_mux);
        for (side, mut leg) in legs {
            if leg.muxed == mux {
                continue;
            }
            self.driver
                .command(id, Command::SetRtcpMux { leg: leg.leg, mux })
                .map_err(other)?;
            leg.muxed = mux;
            self.calls.get_mut(call_id).expect("checked").sides[side].media[i] = Some(leg);
        }
        Ok(())
    }

    /// Refuses, before anything changes, an SDP whose media the node's
    /// sockets cannot exchange datagrams with (an IPv6 peer of an IPv4
    /// node, or the reverse): relaying it would only count send errors.
    fn check_reachable(&self, sdp: &Sdp<'_>, peer_ip: Option<IpAddr>) -> Result<(), ControlError> {
        for (i, m) in sdp.media.iter().enumerate() {
            let Some(remote) = sdp_remote(sdp, i, peer_ip)
                .0
                .filter(|a| m.port != 0 && !a.ip().is_unspecified())
            else {
                continue;
            };
            if !self.driver.reaches(remote.ip()) {
                return Err(ControlError::Other(format!(
                    "media section {} is at {}, which this node's media sockets \
                     (bound on {}) cannot reach: another address family",
                    i + 1,
                    remote.ip(),
                    self.driver.bind_address()
                )));
            }
        }
        Ok(())
    }

    /// Makes sure every enabled section of `sdp` has a bridged pair of legs
    /// and sets side `s`'s remotes from it, after the request's checks
    /// (address family, transport, reachable peers). `written` is the
    /// address the SDP passed on will carry (the other side's interface).
    /// Returns the ports of the other side, one entry per section.
    pub(super) fn apply_sdp(
        &mut self,
        call_id: &str,
        s: usize,
        sdp: &Sdp<'_>,
        options: &Options<'_>,
        written: IpAddr,
    ) -> Result<Vec<MediaPorts>, ControlError> {
        let call = self.calls.get(call_id).ok_or(ControlError::UnknownCall)?;
        let id = call.id;
        if sdp.media.len() > MAX_MEDIA_SECTIONS {
            return Err(ControlError::Other(format!(
                "the SDP has {} media sections; this node takes at most {MAX_MEDIA_SECTIONS}",
                sdp.media.len()
            )));
        }
        if let Some(family) = options.address_family {
            let ours = AddressFamily::of(written);
            if family != ours {
                return Err(ControlError::Other(format!(
                    "address family {} asked for, but this node's media address {} is {}",
                    family.as_str(),
                    written,
                    ours.as_str()
                )));
            }
        }
        check_relayable(sdp)?;
        if let Some(wanted) = options.transport_protocol {
            check_transport(sdp, wanted)?;
        }
        if options.record_call == Some(true) {
            // accepted (the call itself must not fail), but said plainly
            tracing::warn!(
                call = call_id,
                "record-call asked for: this node does not record calls"
            );
        }
        let peer_ip = peer_ip(options);
        self.check_reachable(sdp, peer_ip)?;
        // every pair the request needs, bound before anything changes
        let new_sections = sdp
            .media
            .iter()
            .enumerate()
            .filter(|(i, m)| {
                m.port != 0 && matches!(call.sides[s].media.get(*i), None | Some(None))
            })
            .count();
        let mut bound = self.bind_pairs(id, 2 * new_sections)?;
        let result = self.apply_sections(call_id, s, sdp, options, &mut bound);
        // left over only where a worker failed midway
        self.free_pairs(bound);
        result
    }

    /// [`Node::apply_sdp`] once its checks have passed, each new leg on a
    /// pair of `bound`.
    fn apply_sections(
        &mut self,
        call_id: &str,
        s: usize,
        sdp: &Sdp<'_>,
        options: &Options<'_>,
        bound: &mut Vec<BoundPair>,
    ) -> Result<Vec<MediaPorts>, ControlError> {
        let call = &self.calls[call_id];
        let (id, call_set) = (call.id, call.detectors);
        let peer_ip = peer_ip(options);
        let latching = latching_asked(options);
        let mut out = Vec::with_capacity(sdp.media.len());
        for (i, m) in sdp.media.iter().enumerate() {
            if m.port == 0 {
                let media = &mut self.calls.get_mut(call_id).expect("checked").sides[s].media;
                if let Some(Some(leg)) = media.get_mut(i) {
                    leg.flow = None;
                }
                out.push(MediaPorts { rtp: 0, rtcp: None });
                continue;
            }
            let remote = sdp_remote(sdp, i, peer_ip);
            let te = telephone_event_pt(
                m.payload_types
                    .iter()
                    .map(|p| (p.pt, p.encoding, p.clock_rate)),
            );
            // Detectors listen to audio. Encrypted media (SRTP: RTP/SAVP,
            // RTP/SAVPF, UDP/TLS/RTP/SAVP, ...) is relayed as it is; they
            // cannot read it, and would report on noise.
            let readable = m.kind.eq_ignore_ascii_case("audio") && !is_srtp(m.proto);
            let set = if !readable {
                DetectorSet::default()
            } else {
                call_set
            };
            let pts: Vec<u8> = m
                .formats
                .iter()
                .filter_map(|f| f.parse::<u8>().ok())
                .filter(|&pt| pt < 128)
                .collect();
            // relayable: checked above
            let transport = section_transport(m.proto).unwrap_or_default();
            let existing = self.calls[call_id].sides[s].media.get(i).copied().flatten();
            let mut mine = match existing {
                Some(mut leg) => {
                    if leg.transport != transport {
                        // a re-offer that turns the section into T.38 (a fax
                        // gateway's m=image in place of m=audio), or back:
                        // both legs of the section carry it
                        self.set_transport(call_id, i, transport)?;
                        leg.transport = transport;
                    }
                    // a re-offer that changes codecs: latching asks the new ones
                    let mask =
                        payload_type_mask(&pts).map_err(|e| ControlError::Other(e.to_string()))?;
                    if leg.pt_mask != mask {
                        leg.pt_mask = mask;
                        let payload_types = pts;
                        self.driver
                            .command(
                                id,
                                Command::SetPayloadTypes {
                                    leg: leg.leg,
                                    payload_types,
                                },
                            )
                            .map_err(other)?;
                    }
                    if leg.sdp_remote != Some(remote) {
                        self.driver
                            .command(
                                id,
                                Command::SetRemote {
                                    leg: leg.leg,
                                    rtp: remote.0,
                                    rtcp: remote.1,
                                },
                            )
                            .map_err(other)?;
                        leg.sdp_remote = Some(remote);
                    }
                    self.retune_tap(id, set, leg.leg, te);
                    leg
                }
                None => {
                    let rate = m
                        .payload_types
                        .first()
                        .map_or(8000, |p| p.clock_rate.max(1));
                    if !readable && call_set.any() {
                        tracing::info!(
                            call = call_id,
                            section = i + 1,
                            kind = m.kind,
                            proto = m.proto,
                            "no detectors on this section: not audio, or encrypted"
                        );
                    }
                    let (mine_pair, their_pair) = match (bound.pop(), bound.pop()) {
                        (Some(m), Some(t)) => (m, t),
                        _ => unreachable!("two pairs were bound for each new section"),
                    };
                    let mine = match self.add_leg(id, mine_pair, remote, pts, rate, transport) {
                        Ok(m) => m,
                        Err(e) => {
                            self.free_pairs(vec![their_pair]);
                            return Err(e);
                        }
                    };
                    let theirs = match self.add_leg(
                        id,
                        their_pair,
                        (None, None),
                        Vec::new(),
                        rate,
                        transport,
                    ) {
                        Ok(t) => t,
                        Err(e) => {
                            let call = self.calls.get_mut(call_id).expect("checked");
                            call.stray_ports.push(mine.rtp);
                            return Err(e);
                        }
                    };
                    if let Err(e) = self.driver.command(
                        id,
                        Command::Bridge {
                            a: mine.leg,
                            b: theirs.leg,
                        },
                    ) {
                        // both pairs go back with the call
                        let call = self.calls.get_mut(call_id).expect("checked");
                        call.stray_ports.extend([mine.rtp, theirs.rtp]);
                        return Err(other(e));
                    }
                    // The answerer's leg gets the offer's telephone-event
                    // type until its own SDP says otherwise.
                    self.attach_tap(id, set, mine.leg, s, te);
                    self.attach_tap(id, set, theirs.leg, 1 - s, te);
                    let sides = &mut self.calls.get_mut(call_id).expect("checked").sides;
                    for (side, leg) in [(s, mine), (1 - s, theirs)] {
                        let media = &mut sides[side].media;
                        if media.len() <= i {
                            media.resize(i + 1, None);
                        }
                        media[i] = Some(leg);
                    }
                    mine
                }
            };
            if mine.latching != latching {
                let leg = mine.leg;
                self.driver
                    .command(id, Command::SetLatching { leg, latching })
                    .map_err(other)?;
                mine.latching = latching;
            }
            mine.offers_mux = m.rtcp_mux;
            mine.codec = first_codec(m);
            (mine.kind, mine.proto) = (ShortName::new(m.kind), ShortName::new(m.proto));
            mine.flow = Some(match remote.0 {
                Some(a) if !a.ip().is_unspecified() => sdp.direction(i),
                _ => sdp.direction(i).without_receiving(),
            });
            let sides = &mut self.calls.get_mut(call_id).expect("checked").sides;
            sides[s].media[i] = Some(mine);
            let theirs = sides[1 - s].media[i].expect("legs come in pairs");
            self.negotiate_rtcp_mux(call_id, i, [(s, mine), (1 - s, theirs)])?;
            out.push(MediaPorts {
                rtp: theirs.rtp,
                rtcp: Some(theirs.rtcp),
            });
        }
        if let (Some((idle, _)), Some(call)) = (&self.expiry, self.calls.get(call_id)) {
            idle.set_held(call.id, call.media_held());
        }
        Ok(out)
    }

    /// After an answer, each section's codec is the answerer's for the
    /// offerer too (RFC 3264: the answerer picks from the offer), as
    /// rtpengine reports it once a call is answered.
    pub(super) fn settle_codecs(&mut self, call_id: &str, offerer: usize) {
        let Some(call) = self.calls.get_mut(call_id) else {
            return;
        };
        let [a, b] = &mut call.sides;
        let (offered, answered) = if offerer == 0 { (a, b) } else { (b, a) };
        for (o, ans) in offered.media.iter_mut().zip(&answered.media) {
            if let (Some(o), Some(Some(codec))) = (o, ans.map(|l| l.codec)) {
                o.codec = Some(codec);
            }
        }
    }

    /// Configures the live tap for `leg` (side `side`) and attaches it;
    /// a failure is logged, never fails the call.
    fn attach_tap(
        &self,
        call: CallId,
        set: DetectorSet,
        leg: LegId,
        side: usize,
        telephone_event: Option<u8>,
    ) {
        let Some(d) = &self.detect else { return };
        if !set.any() {
            return;
        }
        d.events.add_leg(call, leg, side);
        self.retune_tap(call, set, leg, telephone_event);
        let r = self.driver.command(
            call,
            Command::SetTap {
                leg,
                tap: Some(LIVE_TAP),
            },
        );
        if let Err(e) = r {
            tracing::warn!(call = call.0, leg = leg.0, "detectors not attached: {e}");
        }
    }

    /// New SDP for a leg already tapped: its telephone-event type may move.
    fn retune_tap(&self, call: CallId, set: DetectorSet, leg: LegId, telephone_event: Option<u8>) {
        let Some(d) = &self.detect else { return };
        if set.any() {
            d.control.send(
                self.driver.shard_of(call),
                TapControl::Leg {
                    call,
                    leg,
                    detectors: set,
                    telephone_event,
                },
            );
        }
    }
}

/// Remote RTP and RTCP of media section `i` as the SDP gives them.
/// The peer's RTP and RTCP addresses for media section `i`: from the SDP,
/// or at `peer_ip` (with the SDP's ports) when the request names the peer
/// ([`peer_ip`]).
fn sdp_remote(
    sdp: &Sdp<'_>,
    i: usize,
    peer_ip: Option<IpAddr>,
) -> (Option<SocketAddr>, Option<SocketAddr>) {
    let rtp = match peer_ip {
        Some(ip) => Some(SocketAddr::new(ip, sdp.media[i].port)),
        None => sdp.remote_rtp(i),
    };
    let rtcp = sdp.media[i].rtcp.as_ref().and_then(|(port, conn)| {
        let ip = peer_ip
            .or(conn.as_ref().and_then(|c| c.ip))
            .or(rtp.map(|a| a.ip()))?;
        Some(SocketAddr::new(ip, *port))
    });
    (rtp, rtcp)
}

/// Refuses a `transport-protocol` other than an enabled section's own:
/// the node relays media as it is and does not translate between RTP
/// profiles (RTP and SRTP, AVP and AVPF), as rtpengine would.
fn check_transport(sdp: &Sdp<'_>, wanted: &str) -> Result<(), ControlError> {
    for (i, m) in sdp.media.iter().enumerate() {
        if m.port != 0 && !m.proto.eq_ignore_ascii_case(wanted) {
            return Err(ControlError::Other(format!(
                "transport-protocol {wanted} asked for, but media section {} is {}: \
                 this node relays media as offered and does not translate profiles",
                i + 1,
                m.proto
            )));
        }
    }
    Ok(())
}

/// What the relay carries for an `m=` line's transport protocol: RTP
/// (any profile: `RTP/AVP`, `RTP/SAVPF`, `UDP/TLS/RTP/SAVP`, ...), or
/// datagrams forwarded as they are for another protocol over UDP (T.38
/// fax's `udptl`, `UDP/BFCP`); `None` for what is not over UDP
/// (`TCP/MSRP`, `TCP/TLS/BFCP`), which the node cannot relay.
fn section_transport(proto: &str) -> Option<Transport> {
    let mut tokens = proto.split('/');
    if tokens.clone().any(|t| t.eq_ignore_ascii_case("RTP")) {
        Some(Transport::Rtp)
    } else if proto.eq_ignore_ascii_case("udptl")
        || tokens.next().is_some_and(|t| t.eq_ignore_ascii_case("UDP"))
    {
        Some(Transport::Opaque)
    } else {
        None
    }
}

/// Refuses an enabled section the relay cannot carry (see
/// [`section_transport`]): accepted, its media would be lost without a
/// word.
fn check_relayable(sdp: &Sdp<'_>) -> Result<(), ControlError> {
    for (i, m) in sdp.media.iter().enumerate() {
        if m.port != 0 && section_transport(m.proto).is_none() {
            return Err(ControlError::Other(format!(
                "media section {} ({} {}) is not over UDP: this node relays RTP and \
                 UDP datagrams only",
                i + 1,
                m.kind,
                m.proto
            )));
        }
    }
    Ok(())
}

/// Whether an `m=` line's transport protocol carries SRTP (a profile
/// ending in `SAVP` or `SAVPF`, RFC 3711/5124), whose payloads the node
/// cannot read.
fn is_srtp(proto: &str) -> bool {
    let profile = proto.rsplit('/').next().unwrap_or(proto);
    profile.eq_ignore_ascii_case("SAVP") || profile.eq_ignore_ascii_case("SAVPF")
}

/// How the legs of the side whose SDP a request carries follow their
/// media's source: rtpengine's `asymmetric` flag (the peer sends from
/// elsewhere than it receives: never latch) or `media-handover` (a new
/// source takes over at once); without either, symmetric RTP with hijack
/// protection. Each offer or answer says it anew.
fn latching_asked(options: &Options<'_>) -> Latching {
    if options.has_flag("asymmetric") {
        Latching::Off
    } else if options.has_flag("media-handover") {
        Latching::Handover
    } else {
        Latching::Protected
    }
}

/// Where the request says the peer's media is, over the SDP's addresses:
/// `media address`, else, with the flag `SIP-source-address`, the
/// `received-from` address (rtpengine's rules; its default, as here, is
/// to trust the SDP).
fn peer_ip(options: &Options<'_>) -> Option<IpAddr> {
    options.media_address.or_else(|| {
        options
            .has_flag("SIP-source-address")
            .then_some(options.received_from)
            .flatten()
    })
}
