//! End to end with real peers: a call from a sipp UAC through Kamailio to
//! a sipp UAS, Kamailio's `rtpengine` module driving `ringwire serve` over
//! the NG protocol exactly as it drives rtpengine (`rtpengine_offer` on the
//! INVITE, `rtpengine_answer` on the 200, `rtpengine_delete` on the BYE).
//! The UAC plays the G.711 and RFC 4733 captures of Debian's sip-tester,
//! the UAS echoes the RTP: both directions go through the node, which
//! reports the caller's digit, and the call is deleted on the BYE. A ring
//! group (the INVITE forked to two agents, one answering, the other
//! cancelled) keeps its media though the cancelled branch is deleted, and
//! so does one whose other agent is busy before the first answers (the
//! delete delay), a
//! late offer (no SDP in the INVITE) driven by `rtpengine_manage` is
//! relayed as well, a call the caller cancels while it rings (a dialer's
//! unanswered attempt) leaves no port behind, a call put on hold by
//! re-INVITE is counted held, then resumes its media, and a call whose
//! proxy names the node's interfaces (`direction=`) reaches them, its
//! `codec-strip=` taking the DTMF events out of the offer.
//!
//! Two real SIP phones (baresip) talk through Kamailio and the node as
//! well, in A-law: each hears the other's in-band digits in its own
//! recording, the caller's RFC 4733 digits are reported, their RTCP goes
//! through, Kamailio's `$rtpstat` reads the node's totals and its
//! `mos_average_pv` each phone's score from the node's RTCP scoring, and
//! the node counts exactly the packets each phone says it sent.
//!
//! Needs `kamailio`, `sipp` and `baresip` (Debian: kamailio, sip-tester,
//! baresip-core), which `scripts/test.sh` installs.

mod common;
use common::*;

use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

use ringwire_host::ng::bencode::Dict;

/// A child process, in a process group of its own, killed with all of
/// its own children (Kamailio forks workers) when the test ends, however
/// it ends.
struct Peer(Child);

impl Peer {
    fn spawn(cmd: &mut Command) -> std::io::Result<Peer> {
        cmd.process_group(0).spawn().map(Peer)
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        // SIGTERM first, so that Kamailio's main process reaps its
        // workers; SIGKILL to whatever is left after 3 s.
        let group = -(self.0.id() as libc::pid_t);
        // SAFETY: kill(2) with a negative pid signals the process group
        // the child leads (process_group(0) made it its own); no memory is
        // touched.
        unsafe { libc::kill(group, libc::SIGTERM) };
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(3) {
            if matches!(self.0.try_wait(), Ok(Some(_))) {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // SAFETY: as above.
        unsafe { libc::kill(group, libc::SIGKILL) };
        let _ = self.0.wait();
    }
}

/// Kamailio's configuration: every request goes on to the UAS at
/// `uas_port` (an INVITE also to `fork_to`'s, in parallel, where given:
/// a ring group); the INVITE's SDP and the answer's through a node of
/// `nodes` (`rtpengine_sock`'s list: `udp:HOST:PORT=WEIGHT ...`), and a
/// reply of 300 or more deletes its own dialogue only (the `to-tag` flag
/// puts its To tag in the delete, which Kamailio otherwise leaves out of
/// deletes: without it a ring group's cancelled branch would end the
/// call the answering agent took, on rtpengine as on ringwire).
///
/// With `manage`, `rtpengine_manage` alone decides instead, as most
/// deployments have it: an offer from whichever side sends the first SDP
/// (the 200 OK when the INVITE has none: a late offer), the answer from
/// the other (then the ACK), a delete on BYE and CANCEL.
///
/// With `record_route`, Kamailio stays in the dialogue (Record-Route) and
/// sends requests within it where their Request-URI says, as SIP phones
/// need: their BYE then reaches the proxy, which logs the call's
/// `$rtpstat` (read from the node by `query`) and deletes the call.
///
/// With `proxy_options`, its offers and answers also name the node's
/// interfaces for each side (`direction=external direction=internal`)
/// and take DTMF events out of the SDP (`codec-strip=telephone-event`).
fn kamailio_cfg(
    sip_port: u16,
    nodes: &str,
    uas_port: u16,
    fork_to: Option<u16>,
    manage: bool,
    record_route: bool,
    proxy_options: bool,
) -> String {
    // two branches by their request URIs (`$du` would send both to one)
    let fork = fork_to.map_or(String::new(), |p| {
        format!(
            r#"if (is_method("INVITE")) {{
        $du = $null;
        $ru = "sip:agent@127.0.0.1:{uas_port}";
        append_branch("sip:agent@127.0.0.1:{p}");
    }}"#
        )
    });
    const FLAGS: &str = "replace-origin replace-session-connection";
    // the caller outside, the agents inside, where the node names them;
    // no DTMF events offered to the agents
    let flags = if proxy_options {
        format!("{FLAGS} direction=external direction=internal codec-strip=telephone-event")
    } else {
        FLAGS.to_string()
    };
    // with the phones, each side labelled, for Kamailio's MOS per side
    let (offer_label, answer_label) = if record_route {
        (" label=caller", " label=callee")
    } else {
        ("", "")
    };
    let (media, on_reply) = if manage {
        (
            format!(
                r#"if (is_method("INVITE|ACK|BYE|CANCEL")) {{ rtpengine_manage("{flags}"); }}
    if (is_method("INVITE")) {{ t_on_reply("MEDIA"); }}"#
            ),
            format!(r#"rtpengine_manage("{flags}");"#),
        )
    } else {
        (
            format!(
                r#"if (is_method("INVITE") && has_body("application/sdp")) {{
        if (!rtpengine_offer("{flags}{offer_label}")) {{
            sl_send_reply("503", "No media relay");
            exit;
        }}
        t_on_reply("MEDIA");
    }}
    if (is_method("BYE|CANCEL")) {{ rtpengine_delete(); }}"#
            ),
            format!(
                r#"if ($rs >= 300) {{
        rtpengine_delete("to-tag");
    }} else if (has_body("application/sdp")) {{
        rtpengine_answer("{flags}{answer_label}");
    }}"#
            ),
        )
    };
    let in_dialogue = if record_route {
        r#"if (has_totag()) {
        loose_route();
        if (!t_relay()) { sl_reply_error(); }
        exit;
    }
    if (is_method("INVITE")) { record_route(); }"#
    } else {
        ""
    };
    let rr_module = if record_route {
        r#"loadmodule "rr.so""#
    } else {
        ""
    };
    // the call's totals as Kamailio reads them from the node (a `query`),
    // before the BYE deletes the call
    let rtpstat = if record_route {
        r#"if (is_method("BYE")) { xlog("L_INFO", "rtpstat: $rtpstat\n"); }"#
    } else {
        ""
    };
    // the MOS Kamailio reads from the node's `delete` reply (its `SSRC`
    // dict), into the AVPs its rtpengine module fills
    let (mos_params, mos_log) = if record_route {
        (
            [
                "average",
                "average_samples",
                "average_roundtrip",
                "min",
                "max",
            ]
            .map(|v| format!(r#"modparam("rtpengine", "mos_{v}_pv", "$avp(mos_{v})")"#))
            .into_iter()
            .chain(["A", "B"].into_iter().flat_map(|side| {
                let label = if side == "A" { "caller" } else { "callee" };
                [
                    format!(r#"modparam("rtpengine", "mos_{side}_label_pv", "{label}")"#),
                    format!(
                        r#"modparam("rtpengine", "mos_average_{side}_pv", "$avp(mos_average_{side})")"#
                    ),
                ]
            }))
            .collect::<Vec<_>>()
            .join("\n"),
            r#"if (is_method("BYE")) {
        xlog("L_INFO", "mos: average $avp(mos_average) of $avp(mos_average_samples), round trip $avp(mos_average_roundtrip) us, lowest $avp(mos_min), highest $avp(mos_max)\n");
        xlog("L_INFO", "mos by side: caller $avp(mos_average_A), callee $avp(mos_average_B)\n");
    }"#,
        )
    } else {
        (String::new(), "")
    };
    format!(
        r#"#!KAMAILIO
debug=2
log_stderror=yes
children=1
listen=udp:127.0.0.1:{sip_port}
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "xlog.so"
loadmodule "corex.so"
loadmodule "rtpengine.so"
{rr_module}
modparam("rtpengine", "rtpengine_sock", "{nodes}")
{mos_params}
request_route {{
    if (!mf_process_maxfwd_header("10")) {{ sl_send_reply("483", "Too Many Hops"); exit; }}
    {rtpstat}
    {media}
    {mos_log}
    {in_dialogue}
    $du = "sip:127.0.0.1:{uas_port}";
    {fork}
    if (!t_relay()) {{ sl_reply_error(); }}
    exit;
}}
onreply_route[MEDIA] {{
    {on_reply}
}}
"#
    )
}

/// sipp's built-in `uac_pcap` scenario with its captures read from where
/// Debian installs them.
fn uac_scenario(path: &Path) {
    let out = Command::new("sipp")
        .args(["-sd", "uac_pcap"])
        .output()
        .expect("sipp (Debian package sip-tester) is installed");
    let xml = String::from_utf8(out.stdout)
        .unwrap()
        .replace("\"pcap/", "\"/usr/share/sip-tester/");
    assert!(xml.contains("/usr/share/sip-tester/g711a.pcap"), "{xml}");
    std::fs::write(path, xml).unwrap();
}

/// A UAS (sipp scenario) that rings until the INVITE is cancelled, then
/// answers the CANCEL and ends the INVITE with 487, as the agents of a
/// ring group do when another one answers.
const RING_UNTIL_CANCELLED: &str = r#"<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="rings until cancelled">
  <recv request="INVITE">
    <action>
      <ereg regexp="[0-9]+" search_in="hdr" header="CSeq:" assign_to="cseq" />
    </action>
  </recv>
  <send>
    <![CDATA[

      SIP/2.0 180 Ringing
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpRing[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      Content-Length: 0

    ]]>
  </send>
  <recv request="CANCEL" />
  <send>
    <![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpRing[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

    ]]>
  </send>
  <send>
    <![CDATA[

      SIP/2.0 487 Request Terminated
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpRing[call_number]
      [last_Call-ID:]
      CSeq: [$cseq] INVITE
      Content-Length: 0

    ]]>
  </send>
  <recv request="ACK" />
</scenario>
"#;

/// A UAS (sipp scenario) that is busy: 486 at once, as a ring group's
/// agent on another call (or on do-not-disturb) answers.
const BUSY: &str = r#"<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="busy">
  <recv request="INVITE" />
  <send>
    <![CDATA[

      SIP/2.0 486 Busy Here
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpBusy[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

    ]]>
  </send>
  <recv request="ACK" />
</scenario>
"#;

/// sipp's built-in `uas` scenario, answering a second after it rings:
/// an agent who picks up after another agent's phone said busy.
fn slow_uas() -> String {
    let out = Command::new("sipp")
        .args(["-sd", "uas"])
        .output()
        .expect("sipp (Debian package sip-tester) is installed");
    let xml = String::from_utf8(out.stdout).unwrap();
    let answer = xml.find("<send retrans=\"500\">").expect("the 200 OK");
    format!(
        "{}<pause milliseconds=\"1000\"/>\n  {}",
        &xml[..answer],
        &xml[answer..]
    )
}

/// A UAC (sipp scenario) that gives up while the callee's phone rings:
/// an INVITE with SDP, then CANCEL on the 180, the 487 acknowledged.
const CANCELLING_UAC: &str = r#"<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="caller gives up">
  <send retrans="500">
    <![CDATA[

      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag09[call_number]
      To: [service] <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: sip:sipp@[local_ip]:[local_port]
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[local_ip_type] [local_ip]
      t=0 0
      m=audio [auto_media_port] RTP/AVP 0
      a=rtpmap:0 PCMU/8000

    ]]>
  </send>
  <recv response="100" optional="true" />
  <recv response="180" />
  <send>
    <![CDATA[

      CANCEL sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      [last_Via:]
      From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag09[call_number]
      To: [service] <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 CANCEL
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <recv response="200" />
  <recv response="487" />
  <send>
    <![CDATA[

      ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      [last_Via:]
      From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag09[call_number]
      To: [service] <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
</scenario>
"#;

/// A request of the UAC in the scenarios below, in sipp's XML: `method`
/// with CSeq `cseq`, to the callee's tag when `in_dialog`, with an SDP of
/// G.711 and telephone events whose direction attribute is `sdp` where
/// given, and no body otherwise.
fn uac_request(method: &str, cseq: u32, in_dialog: bool, sdp: Option<&str>) -> String {
    let to_tag = if in_dialog { "[peer_tag_param]" } else { "" };
    // sipp retransmits requests that wait for a response
    let retrans = if method == "ACK" {
        ""
    } else {
        r#" retrans="500""#
    };
    let body = match sdp {
        Some(direction) => format!(
            "Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[local_ip_type] [local_ip]
      t=0 0
      m=audio [auto_media_port] RTP/AVP 0 101
      a=rtpmap:0 PCMU/8000
      a=rtpmap:101 telephone-event/8000
      a={direction}"
        ),
        None => "Content-Length: 0".to_string(),
    };
    format!(
        r#"  <send{retrans}>
    <![CDATA[

      {method} sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag09[call_number]
      To: [service] <sip:[service]@[remote_ip]:[remote_port]>{to_tag}
      Call-ID: [call_id]
      CSeq: {cseq} {method}
      Contact: sip:sipp@[local_ip]:[local_port]
      Max-Forwards: 70
      {body}

    ]]>
  </send>
"#
    )
}

/// The responses a UAC's INVITE waits for: provisional ones if any, 200.
const INVITE_RESPONSES: &str = r#"  <recv response="100" optional="true" />
  <recv response="180" optional="true" />
  <recv response="200" />
"#;

/// A UAC scenario: `transactions` (sipp XML), then sip-tester's G.711
/// capture (about 8 s) and a BYE with CSeq `bye_cseq`.
fn uac_scenario_with(name: &str, transactions: &str, bye_cseq: u32) -> String {
    format!(
        r#"<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="{name}">
{transactions}  <nop>
    <action>
      <exec play_pcap_audio="/usr/share/sip-tester/g711a.pcap" />
    </action>
  </nop>
  <pause milliseconds="8000" />
{bye}  <recv response="200" />
</scenario>
"#,
        bye = uac_request("BYE", bye_cseq, true, None),
    )
}

/// A UAC that makes a late offer: an INVITE without SDP, the callee's SDP
/// in the 200 OK as the offer, the answer in the ACK; then the capture.
fn late_offer_uac() -> String {
    let transactions = uac_request("INVITE", 1, false, None)
        + INVITE_RESPONSES
        + &uac_request("ACK", 1, true, Some("sendrecv"));
    uac_scenario_with("late offer", &transactions, 2)
}

/// A UAC that calls, puts the call on hold with a re-INVITE
/// (`a=sendonly`) for 2.5 s, takes it off (`a=sendrecv`), then plays the
/// capture.
fn hold_uac() -> String {
    let mut transactions = String::new();
    for (cseq, direction) in [(1, "sendrecv"), (2, "sendonly"), (3, "sendrecv")] {
        transactions += &uac_request("INVITE", cseq, cseq > 1, Some(direction));
        transactions += INVITE_RESPONSES;
        transactions += &uac_request("ACK", cseq, true, None);
        if direction == "sendonly" {
            transactions += "  <pause milliseconds=\"2500\" />\n";
        }
    }
    uac_scenario_with("hold and resume", &transactions, 4)
}

/// One answer of [`hold_uas`]: the INVITE, a 200 with `direction` in its
/// SDP (the first one adds the UAS's tag), the ACK.
fn hold_uas_answer(first: bool, direction: &str) -> String {
    let tag = if first {
        ";tag=[pid]SIPpTag01[call_number]"
    } else {
        ""
    };
    format!(
        r#"  <recv request="INVITE" />
  <send>
    <![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]{tag}
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0
      a=rtpmap:0 PCMU/8000
      a={direction}

    ]]>
  </send>
  <recv request="ACK" />
"#
    )
}

/// The UAS for [`hold_uac`]: answers the call, the hold (`a=recvonly`)
/// and the resume, then the BYE.
fn hold_uas() -> String {
    format!(
        r#"<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="held and resumed">
{call}{hold}{resume}  <recv request="BYE" />
  <send>
    <![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

    ]]>
  </send>
</scenario>
"#,
        call = hold_uas_answer(true, "sendrecv"),
        hold = hold_uas_answer(false, "recvonly"),
        resume = hold_uas_answer(false, "sendrecv"),
    )
}

/// Waits until `log` holds `needle` `times` times (at most 10 s).
fn wait_for_log(log: &Path, needle: &str, times: usize) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        if std::fs::read_to_string(log).is_ok_and(|l| l.matches(needle).count() >= times) {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!(
        "no {needle:?} in {}:\n{}",
        log.display(),
        std::fs::read_to_string(log).unwrap_or_default()
    );
}

/// The call a test runs through Kamailio.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scenario {
    /// sip-tester's captures from the UAC to an echoing UAS.
    Plain,
    /// The same, the proxy naming the node's interfaces for each side
    /// (`direction=external direction=internal`) and taking DTMF events
    /// out of the offer (`codec-strip=telephone-event`).
    ProxyOptions,
    /// The same, the INVITE forked to a second agent that rings until
    /// Kamailio cancels it (a ring group).
    RingGroup,
    /// A ring group whose second agent is busy (486 at once), a second
    /// before the first answers: the busy branch's delete comes first.
    BusyAgentFirst,
    /// A late offer (an INVITE without SDP, the answer in the ACK), the
    /// proxy driving the node with `rtpengine_manage` alone.
    LateOffer,
    /// The caller gives up while the agent's phone rings: CANCEL (a
    /// dialer's unanswered attempt).
    CallerCancels,
    /// The caller puts the call on hold (a re-INVITE with `a=sendonly`),
    /// takes it off (`a=sendrecv`), then plays the capture.
    Hold,
    /// Two SIP phones (baresip) instead of sipp, the proxy in the
    /// dialogue (Record-Route): see [`Phone`].
    Phones,
}

/// The first of 16 ports for one [`Sip`]'s peers (Kamailio, the sipp
/// agents and caller, and their media), from a block above the kernel's
/// ephemeral range (32768-60999 on Debian) so that no other socket of the
/// run holds one: a port found free by binding port 0 and letting it go
/// can be taken again before sipp binds it, and sipp then exits at once
/// (status 254), as a test of this file once did in CI.
fn sip_ports() -> u16 {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let chunk = NEXT.fetch_add(1, Ordering::Relaxed) % 16;
    61_000 + (std::process::id() % 16) as u16 * 256 + chunk * 16
}

/// Kamailio between a sipp UAC and a sipp UAS, its `rtpengine` module
/// driving the nodes at `ng_ports` (with their weights).
struct Sip {
    run_dir: PathBuf,
    log: PathBuf,
    sip_port: u16,
    uas_port: u16,
    /// Where INVITEs also go, in parallel, when the proxy forks them.
    fork_port: Option<u16>,
    /// The first of its 16 ports ([`sip_ports`]): Kamailio's, the agents'
    /// and the caller's SIP ports, then their media.
    peer_ports: u16,
    scenario: Scenario,
    _kamailio: Peer,
}

impl Sip {
    fn start(name: &str, ng_ports: &[(u16, u32)]) -> Sip {
        Self::start_with(name, ng_ports, Scenario::Plain)
    }

    /// [`Sip::start`], for calls of `scenario`.
    fn start_with(name: &str, ng_ports: &[(u16, u32)], scenario: Scenario) -> Sip {
        let peer_ports = sip_ports();
        let (sip_port, uas_port) = (peer_ports, peer_ports + 1);
        let forks = matches!(scenario, Scenario::RingGroup | Scenario::BusyAgentFirst);
        let fork_port = forks.then_some(peer_ports + 2);
        let manage = scenario == Scenario::LateOffer;
        let run_dir = temp_path(name);
        std::fs::create_dir_all(&run_dir).unwrap();
        let nodes: Vec<String> = ng_ports
            .iter()
            .map(|(port, weight)| format!("udp:127.0.0.1:{port}={weight}"))
            .collect();
        let cfg = run_dir.join("kamailio.cfg");
        let phones = scenario == Scenario::Phones;
        let config = kamailio_cfg(
            sip_port,
            &nodes.join(" "),
            uas_port,
            fork_port,
            manage,
            phones,
            scenario == Scenario::ProxyOptions,
        );
        std::fs::write(&cfg, config).unwrap();
        let log = run_dir.join("kamailio.log");
        let kamailio = Peer::spawn(
            Command::new("kamailio")
                .arg("-f")
                .arg(&cfg)
                .args(["-DD", "-E", "-m", "64", "-M", "8", "-Y"])
                .arg(&run_dir)
                .arg("-P")
                .arg(run_dir.join("kamailio.pid"))
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&log).unwrap()),
        )
        .expect("kamailio (Debian package kamailio) is installed");
        // its rtpengine module pings each node at start
        wait_for_log(&log, "support for it enabled", ng_ports.len());
        Sip {
            run_dir,
            log,
            sip_port,
            uas_port,
            fork_port,
            peer_ports,
            scenario,
            _kamailio: kamailio,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn sipp(&self, args: &[String]) -> Command {
        let mut c = Command::new("sipp");
        c.args(args)
            .current_dir(&self.run_dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        c
    }

    /// [`Sip::call`], which must succeed; on failure the panic shows
    /// Kamailio's log and that of `node`, the node meant to carry it.
    fn call_through(&self, node: &Node) {
        let uac = self.call();
        assert!(
            uac.success(),
            "the UAC's call failed ({uac}); kamailio log:\n{}\nnode log:\n{}",
            self.log(),
            node.log()
        );
    }

    /// A UAS at `port` that rings until cancelled (an agent who does not
    /// answer).
    fn ringing_uas(&self, port: u16) -> Peer {
        self.uas_of("ring.xml", RING_UNTIL_CANCELLED, port)
    }

    /// A UAS at `port` playing sipp scenario `xml`, written to `file`.
    fn uas_of(&self, file: &str, xml: &str, port: u16) -> Peer {
        let ring = self.run_dir.join(file);
        std::fs::write(&ring, xml).unwrap();
        let s = |v: &str| v.to_string();
        Peer::spawn(&mut self.sipp(&[
            s("-sf"),
            ring.to_string_lossy().into_owned(),
            s("-i"),
            s("127.0.0.1"),
            s("-p"),
            port.to_string(),
            s("-m"),
            s("1"),
            s("-nostdin"),
        ]))
        .unwrap()
    }

    /// One call of the scenario from the UAC (sip-tester's captures to an
    /// echoing UAS, unless the caller cancels); whether the UAC saw it
    /// through.
    fn call(&self) -> std::process::ExitStatus {
        // the UAC's SIP port, then four media ports each (sipp takes the
        // one given and the next ones for RTCP and video)
        let (uac_port, uas_media, uac_media) = (
            self.peer_ports + 3,
            self.peer_ports + 4,
            self.peer_ports + 8,
        );
        let s = |v: &str| v.to_string();
        let uas_scenario = self.run_dir.join("uas.xml");
        let _uas = if self.scenario == Scenario::CallerCancels {
            self.ringing_uas(self.uas_port)
        } else {
            let custom = match self.scenario {
                Scenario::Hold => Some(hold_uas()),
                Scenario::BusyAgentFirst => Some(slow_uas()),
                _ => None,
            };
            let (flag, name) = match custom {
                Some(xml) => {
                    std::fs::write(&uas_scenario, xml).unwrap();
                    (s("-sf"), uas_scenario.to_string_lossy().into_owned())
                }
                None => (s("-sn"), s("uas")),
            };
            Peer::spawn(&mut self.sipp(&[
                flag,
                name,
                s("-rtp_echo"),
                s("-i"),
                s("127.0.0.1"),
                s("-p"),
                self.uas_port.to_string(),
                s("-mp"),
                uas_media.to_string(),
                s("-m"),
                s("1"),
                s("-nostdin"),
            ]))
            .unwrap()
        };
        // a forked branch rings until the proxy cancels it (the first UAS
        // answers at once), or is busy (the first answers a second later)
        let _other_agent = self.fork_port.map(|port| match self.scenario {
            Scenario::BusyAgentFirst => self.uas_of("busy.xml", BUSY, port),
            _ => self.ringing_uas(port),
        });
        let scenario = self.run_dir.join("uac.xml");
        match self.scenario {
            Scenario::LateOffer => std::fs::write(&scenario, late_offer_uac()).unwrap(),
            Scenario::CallerCancels => std::fs::write(&scenario, CANCELLING_UAC).unwrap(),
            Scenario::Hold => std::fs::write(&scenario, hold_uac()).unwrap(),
            Scenario::Phones => panic!("the phones' call is placed by `Phone`, not by sipp"),
            Scenario::Plain
            | Scenario::ProxyOptions
            | Scenario::RingGroup
            | Scenario::BusyAgentFirst => uac_scenario(&scenario),
        }
        self.sipp(&[
            s("-sf"),
            scenario.to_string_lossy().into_owned(),
            format!("127.0.0.1:{}", self.sip_port),
            s("-i"),
            s("127.0.0.1"),
            s("-p"),
            uac_port.to_string(),
            s("-mp"),
            uac_media.to_string(),
            s("-s"),
            s("agent"),
            s("-m"),
            s("1"),
            s("-nostdin"),
            s("-timeout"),
            s("40s"),
            s("-timeout_error"),
        ])
        .status()
        .unwrap()
    }
}

/// The first of 20 media ports for the node(s) of test `slot` (0-9): one
/// block of 200 ports per test process, so the tests of one run, which
/// run at once, never share a port (all below [`sip_ports`]' block).
fn media_ports(slot: u16) -> u16 {
    44000 + (std::process::id() % 80) as u16 * 200 + slot * 20
}

/// A node for test `slot` and Kamailio in front of it, both named after
/// `name`, with calls of `scenario`.
fn node_behind_kamailio(slot: u16, name: &str, scenario: Scenario) -> (Node, SocketAddr, Sip) {
    let (node, ng_port, metrics) = start_node(name, media_ports(slot), "");
    let sip = Sip::start_with(&format!("{name}-run"), &[(ng_port, 1)], scenario);
    (node, metrics, sip)
}

/// Asserts that the node's metrics count sip-tester's capture relayed
/// whole, there and back (236 packets each way). The last packets may
/// still be in the node's sockets when sipp has sent its BYE and exited
/// (a worker that the parallel tests keep off the CPU for a moment): the
/// count is read again until it is whole, or [`WAIT`] has passed.
fn assert_whole_capture(metrics: SocketAddr, node: &Node) {
    wait_for_metric(metrics, "ringwire_packets_relayed_total", 2 * 236, node);
}

/// Asserts that the metrics `body` show the node's one call deleted by
/// the proxy, kept only for its delete delay (30 s by default, as
/// rtpengine's: another branch of a forked call may yet answer).
fn assert_deleted(body: &str) {
    assert_eq!(metric(body, "ringwire_calls"), 1);
    assert_eq!(metric(body, "ringwire_calls_deleting"), 1, "deleted");
}

/// Asserts that the metrics `body` count `counts` NG requests of each
/// command (`offer`, `answer`, `delete`) and no error reply; the panic
/// shows `why` and Kamailio's log.
fn assert_commands(body: &str, counts: [u64; 3], why: &str, sip: &Sip) {
    for (command, n) in ["offer", "answer", "delete"].into_iter().zip(counts) {
        let series = format!("ringwire_ng_requests_total{{command=\"{command}\"}}");
        assert_eq!(metric(body, &series), n, "{series} ({why}):\n{}", sip.log());
    }
    let errors = metric(body, "ringwire_ng_errors_total");
    assert_eq!(errors, 0, "NG errors:\n{}", sip.log());
}

/// Asserts that the node at `metrics` carried exactly one whole call
/// from the UAC: offer, answer and delete, both directions of the
/// capture, the call deleted on the BYE.
fn assert_carried_one_call(metrics: SocketAddr, node: &Node, sip: &Sip) {
    let body = scrape(metrics);
    assert_commands(&body, [1, 1, 1], "one call", sip);
    // the G.711 capture (236 packets) and the digit's events, there and
    // echoed back
    assert_whole_capture(metrics, node);
    assert_deleted(&body);
}

#[test]
fn a_call_through_kamailio_is_relayed_and_its_digit_heard() {
    let base = media_ports(0);
    let (node, ng_port, metrics) = start_node("kamailio", base, "");
    let sip = Sip::start("kamailio-run", &[(ng_port, 1)]);
    sip.call_through(&node);
    assert_carried_one_call(metrics, &node, &sip);
    let log = node.log();
    assert!(
        log.lines()
            .any(|l| l.contains("detector event") && l.contains("digit=1")),
        "the caller's RFC 4733 \"1\" in the node's log:\n{log}"
    );
}

#[test]
fn the_proxys_directions_and_codec_flags_reach_the_node() {
    // The node's default SDP address (`advertise`) reaches nothing; only
    // the interfaces Kamailio's `direction=` flags name do. The caller
    // sends its capture where the answer's SDP says: the call's media
    // goes through only if Kamailio's flags reached the node as rtpengine
    // reads them.
    let (node, ng_port, metrics) = start_node(
        "kamailio-options",
        media_ports(9),
        "address = \"127.0.0.2\"\nadvertise = \"127.0.0.3\"\n\
         [media.interfaces]\nexternal = \"127.0.0.2\"\ninternal = \"127.0.0.2\"\n",
    );
    let sip = Sip::start_with(
        "kamailio-options-run",
        &[(ng_port, 1)],
        Scenario::ProxyOptions,
    );
    sip.call_through(&node);
    assert_carried_one_call(metrics, &node, &sip);
    // `codec-strip=telephone-event` took the events out of the offer, so
    // the node, which reads the SDP as passed on, takes the caller's
    // RFC 4733 packets for no digit (the plain call's test hears its "1")
    let log = node.log();
    assert!(
        !log.lines()
            .any(|l| l.contains("detector event") && l.contains("digit=")),
        "no digit once the events were stripped:\n{log}"
    );
}

#[test]
fn a_draining_node_hands_new_calls_to_the_next() {
    // Node A is draining (SIGTERM, one call still up); Kamailio picks it
    // first for every call (weight 1000: its default hash of the Call-ID
    // is under 256), gets `load limit`, and tries node B, which carries
    // the call. A keeps its own call until that is deleted.
    let base = media_ports(1); // and the next slot, for node B
    let (mut a, a_port, a_metrics) = start_node(
        "drain-a",
        base,
        "[timeouts]\ndrain = 60\ndelete_delay = 0.5\n",
    );
    let (b, b_port, b_metrics) = start_node("drain-b", base + 20, "");
    let mut ng = Ng::new(format!("127.0.0.1:{a_port}").parse().unwrap());
    let mut held = Dict::new();
    let sdp = sdp(40000, 40001, 1);
    held.insert("command", "offer")
        .insert("call-id", "held")
        .insert("from-tag", "a")
        .insert("sdp", sdp.as_str());
    assert_eq!(result(&ng.request(&held)), "ok");
    a.signal(libc::SIGTERM);
    a.wait_for_log("draining", 0);

    let sip = Sip::start("kamailio-drain", &[(a_port, 1000), (b_port, 1)]);
    sip.call_through(&b);
    assert!(sip.log().contains("load limit"), "{}", sip.log());
    assert_eq!(
        metric(&scrape(a_metrics), "ringwire_ng_refused_draining_total"),
        1
    );
    assert_carried_one_call(b_metrics, &b, &sip);
    // A stops once its own call is deleted (and its delete delay over)
    let mut delete = Dict::new();
    delete
        .insert("command", "delete")
        .insert("call-id", "held")
        .insert("from-tag", "a");
    assert_eq!(result(&ng.request(&delete)), "ok");
    let t = Instant::now();
    while a.child.try_wait().unwrap().is_none() {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "A still up:\n{}",
            a.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_ring_group_call_keeps_its_media_when_the_other_agents_are_cancelled() {
    // Kamailio forks the INVITE to two agents; one answers at once, the
    // other rings until Kamailio cancels it, and its 487 goes through the
    // reply route, which deletes with that agent's To tag. The call the
    // first agent answered must keep its media to the end.
    let (node, metrics, sip) = node_behind_kamailio(3, "kamailio-fork", Scenario::RingGroup);
    sip.call_through(&node);
    // the whole capture went through, there and back, though the
    // cancelled agent's delete came before it
    assert_ring_group_carried(
        metrics,
        &node,
        &sip,
        (
            "the branch's delete and the BYE's",
            "delete of a branch that did not answer",
        ),
        "the cancelled agent's delete reached the node",
    );
}

/// Asserts that a ring group's call went through whole though one
/// branch's delete came first: offer, answer and two deletes (`deletes`:
/// why two, and what the node's log must say of the first), no NG error,
/// the capture both ways, the call then deleted; `why` explains the log
/// line.
fn assert_ring_group_carried(
    metrics: SocketAddr,
    node: &Node,
    sip: &Sip,
    deletes: (&str, &str),
    why: &str,
) {
    let body = scrape(metrics);
    assert_commands(&body, [1, 1, 2], deletes.0, sip);
    assert_whole_capture(metrics, node);
    let log = node.log();
    assert!(log.contains(deletes.1), "{why}:\n{log}");
    assert_deleted(&body);
}

#[test]
fn a_ring_group_call_keeps_its_media_when_an_agent_is_busy_first() {
    // Kamailio forks the INVITE to two agents; one is busy (486 at once),
    // and its failure reply deletes its dialogue with its To tag while the
    // other still rings. That agent answers a second later: the call the
    // node was told to delete must take that answer and carry the media,
    // as rtpengine does within its delete delay. (Without the delay the
    // answer finds no call, Kamailio passes the 200 OK's SDP unchanged,
    // and the media bypasses the node.)
    let (node, metrics, sip) = node_behind_kamailio(7, "kamailio-busy", Scenario::BusyAgentFirst);
    sip.call_through(&node);
    assert_ring_group_carried(
        metrics,
        &node,
        &sip,
        ("the busy agent's delete and the BYE's", "revived"),
        "the answer revived the call",
    );
}

#[test]
fn a_late_offer_through_rtpengine_manage_is_relayed_both_ways() {
    // Dialers and PBXs often send the INVITE without SDP: the callee's
    // 200 OK carries the offer and the caller's ACK the answer.
    // Kamailio's rtpengine_manage then offers from the reply and answers
    // from the ACK, with the tags the other way round.
    let (node, metrics, sip) = node_behind_kamailio(4, "kamailio-late", Scenario::LateOffer);
    sip.call_through(&node);
    let body = scrape(metrics);
    assert_commands(&body, [1, 1, 1], "a late offer", &sip);
    assert_whole_capture(metrics, &node);
    assert_deleted(&body);
}

#[test]
fn a_call_the_caller_cancels_while_ringing_leaves_nothing_behind() {
    // A predictive dialer gives up on most attempts while they ring: the
    // CANCEL deletes the call, the 487 that follows finds it in its delete
    // delay (here 0.5 s: no error, no news), and then its ports are free.
    let (node, ng_port, metrics) = start_node(
        "kamailio-cancel",
        media_ports(5),
        "[timeouts]\ndelete_delay = 0.5\n",
    );
    let sip = Sip::start_with(
        "kamailio-cancel-run",
        &[(ng_port, 1)],
        Scenario::CallerCancels,
    );
    sip.call_through(&node);
    let body = scrape(metrics);
    assert_commands(&body, [1, 0, 2], "the CANCEL's delete and the 487's", &sip);
    let t = Instant::now();
    while metric(&scrape(metrics), "ringwire_calls") > 0 {
        assert!(t.elapsed() < Duration::from_secs(5), "{}", node.log());
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(metric(&scrape(metrics), "ringwire_port_pairs_in_use"), 0);
}

#[test]
fn a_call_on_hold_through_kamailio_is_counted_held_and_resumes() {
    // An agent's hold without music: a re-INVITE with a=sendonly, answered
    // a=recvonly, then a=sendrecv again. While held the node counts the
    // call in ringwire_calls_held; after it the capture goes through.
    let (node, metrics, sip) = node_behind_kamailio(6, "kamailio-hold", Scenario::Hold);
    let held_seen = std::thread::scope(|scope| {
        let watcher = scope.spawn(|| {
            let t = Instant::now();
            while t.elapsed() < Duration::from_secs(20) {
                if metric(&scrape(metrics), "ringwire_calls_held") == 1 {
                    return true;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            false
        });
        sip.call_through(&node);
        watcher.join().unwrap()
    });
    assert!(held_seen, "the hold was never counted:\n{}", node.log());
    let body = scrape(metrics);
    assert_commands(&body, [3, 3, 1], "call, hold, resume", &sip);
    assert_whole_capture(metrics, &node);
    assert_eq!(metric(&body, "ringwire_calls_held"), 0);
    assert_deleted(&body);
}

/// A baresip SIP phone in a directory of its own: G.711 (the `codecs`
/// it is given, in its order of preference) and RFC 4733, answering at once, playing `source` (a WAV file) into the call
/// and recording what it hears (`sndfile`: `dump-*-dec.wav`), RTCP on,
/// on the ports of its [`PhonePorts`].
struct Phone {
    dir: PathBuf,
    ctrl_port: u16,
    process: Peer,
}

/// Where a [`Phone`] listens.
struct PhonePorts {
    /// SIP over UDP (baresip also takes the next port, over TCP, for TLS).
    sip: u16,
    /// The range its RTP and RTCP ports come from.
    rtp: (u16, u16),
    /// Its control socket (`ctrl_tcp`, TCP).
    ctrl: u16,
}

impl Phone {
    /// Starts phone `user` with `codecs` on `ports` in `dir`; with `dial`,
    /// it calls that URI at once and hangs up (quits) after `seconds`.
    fn start(
        dir: PathBuf,
        user: &str,
        codecs: &str,
        ports: PhonePorts,
        source: &Path,
        dial: Option<(&str, u32)>,
    ) -> Phone {
        let PhonePorts {
            sip: sip_port,
            rtp: rtp_ports,
            ctrl: ctrl_port,
        } = ports;
        std::fs::create_dir_all(&dir).unwrap();
        let config = format!(
            "poll_method epoll\n\
             sip_listen 127.0.0.1:{sip_port}\n\
             rtp_ports {}-{}\n\
             rtp_stats yes\n\
             audio_source aufile,{}\n\
             audio_player aufile,/dev/null\n\
             audio_alert aufile,/dev/null\n\
             audio_channels 1\n\
             audio_srate 8000\n\
             module_path /usr/lib/baresip/modules\n\
             module g711.so\n\
             module aufile.so\n\
             module sndfile.so\n\
             snd_path {}\n\
             module_app account.so\n\
             module_app menu.so\n\
             module_app ctrl_tcp.so\n\
             ctrl_tcp_listen 127.0.0.1:{ctrl_port}\n",
            rtp_ports.0,
            rtp_ports.1,
            source.display(),
            dir.display(),
        );
        std::fs::write(dir.join("config"), config).unwrap();
        std::fs::write(
            dir.join("accounts"),
            format!(
                "<sip:{user}@127.0.0.1:{sip_port}>;regint=0;audio_codecs={codecs};answermode=auto\n"
            ),
        )
        .unwrap();
        let mut cmd = Command::new("baresip");
        cmd.arg("-f").arg(&dir).current_dir(&dir);
        if let Some((uri, seconds)) = dial {
            cmd.args(["-e", &format!("/dial {uri}"), "-t", &seconds.to_string()]);
        }
        cmd.stdin(Stdio::null())
            .stdout(std::fs::File::create(dir.join("baresip.log")).unwrap())
            .stderr(Stdio::null());
        let process =
            Peer::spawn(&mut cmd).expect("baresip (Debian package baresip-core) is installed");
        Phone {
            dir,
            ctrl_port,
            process,
        }
    }

    fn log(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(self.dir.join("baresip.log")).unwrap_or_default())
            .replace('\r', "\n")
    }

    /// Waits until the log holds `needle`.
    fn wait_for(&self, needle: &str) {
        let start = Instant::now();
        while !self.log().contains(needle) {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "no {needle:?} in {}:\n{}",
                self.dir.display(),
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends `digits` as RFC 4733 events (baresip's `sndcode`), 300 ms
    /// apart.
    fn send_digits(&self, digits: &str) {
        use std::io::{Read, Write};
        for d in digits.chars() {
            let mut s = std::net::TcpStream::connect(("127.0.0.1", self.ctrl_port)).unwrap();
            let json = format!(r#"{{"command":"sndcode","params":"{d}","token":"t"}}"#);
            s.write_all(format!("{}:{json},", json.len()).as_bytes())
                .unwrap();
            s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
            let mut reply = [0u8; 256];
            let n = s.read(&mut reply).unwrap_or(0);
            let reply = String::from_utf8_lossy(&reply[..n]);
            assert!(reply.contains(r#""ok":true"#), "sndcode {d}: {reply}");
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    /// Waits for the phone to quit (a caller's `-t`).
    fn wait_exit(&mut self, within: Duration) {
        let start = Instant::now();
        while self.process.0.try_wait().unwrap().is_none() {
            assert!(
                start.elapsed() < within,
                "the phone did not hang up:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// RTP packets (sent, received) by the phone's own count, from the
    /// statistics it prints when a call ends.
    fn packets(&self) -> (u64, u64) {
        let log = self.log();
        let line = log
            .lines()
            .rfind(|l| l.trim_start().starts_with("packets:"))
            .unwrap_or_else(|| panic!("no packet counts in:\n{log}"));
        let n: Vec<u64> = line
            .split_whitespace()
            .skip(1)
            .map(|v| v.parse().unwrap())
            .collect();
        (n[0], n[1])
    }

    /// The DTMF digits `ringwire analyze` finds in what the phone heard.
    fn heard_digits(&self) -> String {
        let heard = std::fs::read_dir(&self.dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.to_string_lossy().ends_with("-dec.wav"))
            .unwrap_or_else(|| panic!("no recording in {}", self.dir.display()));
        let out = Command::new(env!("CARGO_BIN_EXE_ringwire"))
            .args(["analyze", "--detect", "dtmf", "--format", "json"])
            .arg(&heard)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split(r#""digit":""#).nth(1))
            .filter_map(|rest| rest.chars().next())
            .collect()
    }
}

/// Writes a 16-bit 8 kHz WAV of `seconds`: 1 s of silence, then each of
/// `digits` as a 120 ms DTMF tone with 200 ms of silence after it.
fn dtmf_wav(path: &Path, digits: &str, seconds: f64) {
    const ROWS: [f64; 4] = [697.0, 770.0, 852.0, 941.0];
    const COLS: [f64; 3] = [1209.0, 1336.0, 1477.0];
    const KEYS: &str = "123456789*0#";
    let rate = 8000.0;
    let mut samples = vec![0i16; (seconds * rate) as usize];
    let mut at = rate as usize;
    for d in digits.chars() {
        let k = KEYS.find(d).expect("a DTMF key");
        let (low, high) = (ROWS[k / 3], COLS[k % 3]);
        for n in 0..(0.12 * rate) as usize {
            let t = n as f64 / rate;
            let v = 6000.0
                * ((2.0 * std::f64::consts::PI * low * t).sin()
                    + (2.0 * std::f64::consts::PI * high * t).sin());
            samples[at + n] = v as i16;
        }
        at += (0.32 * rate) as usize;
    }
    let data: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
    let mut wav = Vec::with_capacity(44 + data.len());
    wav.extend_from_slice(b"RIFF");
    wav.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    wav.extend_from_slice(b"WAVEfmt ");
    for v in [16u32, 0x0001_0001, 8000, 16000, 0x0010_0002] {
        wav.extend_from_slice(&v.to_le_bytes());
    }
    wav.extend_from_slice(b"data");
    wav.extend_from_slice(&(data.len() as u32).to_le_bytes());
    wav.extend_from_slice(&data);
    std::fs::write(path, wav).unwrap();
}

#[test]
fn two_sip_phones_talk_through_kamailio_with_rtcp_and_digits() {
    let (node, ng_port, metrics) = start_node(
        "kamailio-phones",
        media_ports(8),
        "[timeouts]\ndelete_delay = 1.0\n",
    );
    let sip = Sip::start_with("kamailio-phones-run", &[(ng_port, 1)], Scenario::Phones);
    let p = sip.peer_ports;
    // the agent plays a "3", the caller "75#"; both go on in silence, in
    // A-law, the one codec of the agent's phone (the caller offers µ-law
    // first)
    let (agent_wav, caller_wav) = (
        sip.run_dir.join("agent.wav"),
        sip.run_dir.join("caller.wav"),
    );
    dtmf_wav(&agent_wav, "3", 16.0);
    dtmf_wav(&caller_wav, "75#", 16.0);
    let agent = Phone::start(
        sip.run_dir.join("agent"),
        "agent",
        "PCMA",
        PhonePorts {
            sip: sip.uas_port,
            rtp: (p + 4, p + 7),
            ctrl: p + 12,
        },
        &agent_wav,
        None,
    );
    agent.wait_for("baresip is ready");
    // 12 s: two rounds of each phone's RTCP reports (every 5 s), the
    // second scored: each names an SR of the other that the first passed
    let mut caller = Phone::start(
        sip.run_dir.join("caller"),
        "caller",
        "PCMU,PCMA",
        PhonePorts {
            sip: p + 3,
            rtp: (p + 8, p + 11),
            ctrl: p + 13,
        },
        &caller_wav,
        Some((&format!("sip:agent@127.0.0.1:{}", sip.sip_port), 12)),
    );
    caller.wait_for("Call established");
    caller.send_digits("12");
    caller.wait_exit(Duration::from_secs(20));
    agent.wait_for("terminated");

    // each phone heard the other's digits: the audio went through whole
    assert_eq!(agent.heard_digits(), "75#", "the agent's recording");
    assert_eq!(caller.heard_digits(), "3", "the caller's recording");
    // offer, answer, and the delete of the caller's BYE; RTCP both ways
    let body = scrape(metrics);
    assert_commands(&body, [1, 1, 1], "one call between phones", &sip);
    let rtcp = metric(&body, "ringwire_rtcp_packets_received_total");
    assert!(
        rtcp >= 2,
        "{rtcp} RTCP packets:\n{}\n{}",
        caller.log(),
        agent.log()
    );
    // Kamailio's `$rtpstat`, read from the node's `query` reply at the
    // BYE: RTP of both phones (the agent's last packets may come after),
    // RTCP of both, no errors
    let (caller_sent, agent_sent) = (caller.packets().0, agent.packets().0);
    let kamailio = sip.log();
    let stat = kamailio
        .lines()
        .find_map(|l| l.split("rtpstat: ").nth(1))
        .unwrap_or_else(|| panic!("no $rtpstat logged:\n{kamailio}"));
    let numbers: Vec<u64> = stat
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse().ok())
        .collect();
    assert!(
        stat.starts_with("RTP: ") && stat.contains(" bytes, ") && numbers.len() == 6,
        "{stat}"
    );
    let (rtp_packets, rtp_errors, rtcp_packets) = (numbers[1], numbers[2], numbers[4]);
    assert!(
        (caller_sent + agent_sent - 10..=caller_sent + agent_sent).contains(&rtp_packets),
        "{stat}: the phones sent {caller_sent} and {agent_sent}"
    );
    assert_eq!((rtp_errors, rtcp_packets >= 2), (0, true), "{stat}");
    // Kamailio's MOS variables, from the node's `SSRC` dict in the
    // delete's reply: each phone's second report scored (a clean loopback
    // call scores 4.4, G.711's best), its round trip under a few ms
    let mos = kamailio
        .lines()
        .find_map(|l| l.split("mos: ").nth(1))
        .unwrap_or_else(|| panic!("no MOS logged:\n{kamailio}"));
    let words: Vec<&str> = mos.split([' ', ',']).filter(|w| !w.is_empty()).collect();
    assert_eq!(
        [words[1], words[3], words[9], words[11]],
        ["4.4", "1", "4.4", "4.4"],
        "{mos}"
    );
    let rtt: u64 = words[6].parse().expect("a round trip");
    // and each side's, found by the label its SDP's command carried
    let by_side = kamailio
        .lines()
        .find_map(|l| l.split("mos by side: ").nth(1))
        .unwrap_or_else(|| panic!("no MOS by side logged:\n{kamailio}"));
    assert_eq!(by_side, "caller 4.4, callee 4.4", "{kamailio}");
    assert!((1..20_000).contains(&rtt), "{mos}");
    // the node's digits: the caller's events, and the tones each played
    let log = node.log();
    let digits = |source: &str| -> String {
        log.lines()
            .filter(|l| l.contains("detector event") && l.contains(&format!("source=\"{source}\"")))
            .filter_map(|l| l.split(" digit=").nth(1))
            .filter_map(|d| d.chars().next())
            .collect()
    };
    assert_eq!(digits("rfc4733"), "12", "{log}");
    let mut inband: Vec<char> = digits("inband").chars().collect();
    inband.sort_unstable();
    assert_eq!(inband, ['#', '3', '5', '7'], "{log}");
    // after the delete delay (1 s here), the node logs the call's end with
    // each phone's packets, exactly as many as the phone says it sent
    let start = Instant::now();
    while !node.log().contains("call ended") {
        assert!(start.elapsed() < WAIT * 2, "no end logged:\n{}", node.log());
        std::thread::sleep(Duration::from_millis(100));
    }
    let log = node.log();
    let ended = log.lines().find(|l| l.contains("call ended")).unwrap();
    // both sides on A-law, the agent's pick from the caller's offer, and
    // both scored from the other's RTCP
    assert_eq!(ended.matches(" (PCMA/8000): ").count(), 2, "{ended}");
    assert_eq!(
        ended.matches(", MOS 4.4 (low 4.4, reports 1, ").count(),
        2,
        "{ended}"
    );
    for (who, phone) in [("caller", &caller), ("agent", &agent)] {
        let sent = phone.packets().0;
        let counted = format!(": {sent} packets, 0 lost, 0 duplicates, 0 late, ");
        assert!(ended.contains(&counted), "the {who} sent {sent}: {ended}");
    }
}
