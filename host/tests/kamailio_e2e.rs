//! End to end with real peers: a call from a sipp UAC through Kamailio to
//! a sipp UAS, Kamailio's `rtpengine` module driving `ringwire serve` over
//! the NG protocol exactly as it drives rtpengine (`rtpengine_offer` on the
//! INVITE, `rtpengine_answer` on the 200, `rtpengine_delete` on the BYE).
//! The UAC plays the G.711 and RFC 4733 captures of Debian's sip-tester,
//! the UAS echoes the RTP: both directions go through the node, which
//! reports the caller's digit, and the call is gone after the BYE.
//!
//! Needs `kamailio` and `sipp` (Debian: kamailio, sip-tester), which
//! `scripts/test.sh` installs.

mod common;
use common::*;

use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

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
/// `uas_port`; the INVITE's SDP and the answer's through the node.
fn kamailio_cfg(sip_port: u16, ng_port: u16, uas_port: u16) -> String {
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
loadmodule "rtpengine.so"
modparam("rtpengine", "rtpengine_sock", "udp:127.0.0.1:{ng_port}")
request_route {{
    if (!mf_process_maxfwd_header("10")) {{ sl_send_reply("483", "Too Many Hops"); exit; }}
    if (is_method("INVITE") && has_body("application/sdp")) {{
        if (!rtpengine_offer("replace-origin replace-session-connection")) {{
            sl_send_reply("503", "No media relay");
            exit;
        }}
        t_on_reply("MEDIA");
    }}
    if (is_method("BYE|CANCEL")) {{ rtpengine_delete(); }}
    $du = "sip:127.0.0.1:{uas_port}";
    if (!t_relay()) {{ sl_reply_error(); }}
    exit;
}}
onreply_route[MEDIA] {{
    if (has_body("application/sdp")) {{
        rtpengine_answer("replace-origin replace-session-connection");
    }}
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

/// Waits until `log` holds `needle` (at most 10 s).
fn wait_for_log(log: &Path, needle: &str) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        if std::fs::read_to_string(log).is_ok_and(|l| l.contains(needle)) {
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

#[test]
fn a_call_through_kamailio_is_relayed_and_its_digit_heard() {
    let (ng_port, metrics_port) = (free_udp_port(), free_tcp_port());
    let base = 44000 + (std::process::id() % 300) as u16 * 20;
    let config = format!(
        "[control]\nng = \"127.0.0.1:{ng_port}\"\n\
         [metrics]\nlisten = \"127.0.0.1:{metrics_port}\"\n\
         [media]\nport_min = {base}\nport_max = {}\n",
        base + 19
    );
    let node = spawn(&config, "kamailio");
    let ng_addr: SocketAddr = format!("127.0.0.1:{ng_port}").parse().unwrap();
    wait_for_pong(&mut Ng::new(ng_addr), &node);

    let (sip_port, uas_port, uac_port) = (free_udp_port(), free_udp_port(), free_udp_port());
    let (uas_media, uac_media) = (free_udp_port(), free_udp_port());
    let run_dir = temp_path("kamailio-run");
    std::fs::create_dir_all(&run_dir).unwrap();
    let cfg = run_dir.join("kamailio.cfg");
    std::fs::write(&cfg, kamailio_cfg(sip_port, ng_port, uas_port)).unwrap();
    let kam_log = run_dir.join("kamailio.log");
    let _kamailio = Peer::spawn(
        Command::new("kamailio")
            .arg("-f")
            .arg(&cfg)
            .args(["-DD", "-E", "-m", "64", "-M", "8", "-Y"])
            .arg(&run_dir)
            .arg("-P")
            .arg(run_dir.join("kamailio.pid"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&kam_log).unwrap()),
    )
    .expect("kamailio (Debian package kamailio) is installed");
    // its rtpengine module pings the node at start
    wait_for_log(&kam_log, "support for it enabled");

    let sipp = |args: &[String]| {
        let mut c = Command::new("sipp");
        c.args(args)
            .current_dir(&run_dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        c
    };
    let s = |v: &str| v.to_string();
    let _uas = Peer::spawn(&mut sipp(&[
        s("-sn"),
        s("uas"),
        s("-rtp_echo"),
        s("-i"),
        s("127.0.0.1"),
        s("-p"),
        uas_port.to_string(),
        s("-mp"),
        uas_media.to_string(),
        s("-m"),
        s("1"),
        s("-nostdin"),
    ]))
    .unwrap();
    let scenario = run_dir.join("uac_pcap.xml");
    uac_scenario(&scenario);
    let uac = sipp(&[
        s("-sf"),
        scenario.to_string_lossy().into_owned(),
        format!("127.0.0.1:{sip_port}"),
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
    .unwrap();
    assert!(
        uac.success(),
        "the UAC's call failed ({uac}); kamailio log:\n{}\nnode log:\n{}",
        std::fs::read_to_string(&kam_log).unwrap_or_default(),
        node.log()
    );

    let body = scrape(format!("127.0.0.1:{metrics_port}").parse().unwrap());
    for command in ["offer", "answer", "delete"] {
        let series = format!("ringwire_ng_requests_total{{command=\"{command}\"}}");
        assert_eq!(metric(&body, &series), 1, "{series}");
    }
    assert_eq!(metric(&body, "ringwire_ng_errors_total"), 0);
    // the G.711 capture (236 packets) and the digit's events, there and
    // echoed back
    let relayed = metric(&body, "ringwire_packets_relayed_total");
    assert!(relayed >= 2 * 236, "{relayed} packets relayed");
    assert_eq!(metric(&body, "ringwire_calls"), 0, "deleted on the BYE");
    assert_eq!(metric(&body, "ringwire_port_pairs_in_use"), 0);
    let log = node.log();
    assert!(
        log.lines()
            .any(|l| l.contains("detector event") && l.contains("digit=1")),
        "the caller's RFC 4733 \"1\" in the node's log:\n{log}"
    );
}
