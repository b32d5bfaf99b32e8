//! End to end: the real `ringwire serve` binary on loopback, driven over NG
//! like a SIP proxy would, with two test endpoints exchanging RTP through
//! it, metrics scraped over HTTP and a SIGTERM to finish.

mod common;
use common::*;

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use ringwire_host::ng::bencode::{Dict, Value};

fn rtp(seq: u16, ssrc: u32) -> Vec<u8> {
    let mut p = vec![0x80, 0];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(160 * seq as u32).to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend((0..160).map(|i| (i as u8) ^ (seq as u8)));
    p
}

/// An offer of `call` from tag `a` with SDP `body`, listing `load limit`
/// in `supports` as Kamailio does; the reply.
fn offer_supporting_load_limit(ng: &mut Ng, call: &str, body: &str) -> Vec<u8> {
    let mut d = Dict::new();
    d.insert("command", "offer")
        .insert("call-id", call)
        .insert("from-tag", "a")
        .insert("sdp", body)
        .insert("supports", Value::List(vec!["load limit".into()]));
    ng.request(&d)
}

#[test]
fn offer_answer_media_metrics_delete_and_sigterm() {
    let ng_port = free_udp_port();
    let metrics_port = free_tcp_port();
    let base = 42000 + (std::process::id() % 500) as u16 * 20;
    let config = format!(
        "[control]\nng = \"127.0.0.1:{ng_port}\"\n\
         [metrics]\nlisten = \"127.0.0.1:{metrics_port}\"\n\
         [media]\nport_min = {base}\nport_max = {}\n\
         [workers]\nthreads = 2\n[timeouts]\ndelete_delay = 0.5\n",
        base + 19
    );
    let node = spawn(&config, "main");
    let ng_addr: SocketAddr = format!("127.0.0.1:{ng_port}").parse().unwrap();
    let metrics_addr: SocketAddr = format!("127.0.0.1:{metrics_port}").parse().unwrap();

    // ping -> pong, retried until the node listens.
    let mut ng = Ng::new(ng_addr);
    wait_for_pong(&mut ng, &node);

    // Malformed NG datagrams get error replies.
    let r = ng.raw(b"bad1 this is not bencode");
    assert!(r.starts_with(b"bad1 "));
    assert_eq!(result(&r[5..]), "error");
    assert!(field(&r[5..], "error-reason").is_some());
    let r = ng.raw(b"bad2 d7:command7:explodee");
    assert_eq!(result(&r[5..]), "error");

    // Two endpoints, each with an RTP and an RTCP socket.
    let (a, a_rtcp, b, b_rtcp) = (endpoint(), endpoint(), endpoint(), endpoint());
    let port = |s: &UdpSocket| s.local_addr().unwrap().port();
    let call_id = format!("call-{}", std::process::id());
    let sdp_a = sdp(port(&a), port(&a_rtcp), 1);
    let sdp_b = sdp(port(&b), port(&b_rtcp), 2);

    let mut offer = Dict::new();
    offer
        .insert("command", "offer")
        .insert("call-id", call_id.as_str())
        .insert("from-tag", "tag-a")
        .insert("sdp", sdp_a.as_str());
    let r = ng.request(&offer);
    assert_eq!(result(&r), "ok", "{}", String::from_utf8_lossy(&r));
    let to_b = sdp_target(field(&r, "sdp").unwrap());
    assert!(
        (base..base + 20).contains(&to_b.port()) && to_b.port().is_multiple_of(2),
        "{to_b}"
    );
    // A repeated offer (new cookie) gets the same ports.
    let r = ng.request(&offer);
    assert_eq!(sdp_target(field(&r, "sdp").unwrap()), to_b);

    let mut answer = Dict::new();
    answer
        .insert("command", "answer")
        .insert("call-id", call_id.as_str())
        .insert("from-tag", "tag-a")
        .insert("to-tag", "tag-b")
        .insert("sdp", sdp_b.as_str());
    let r = ng.request(&answer);
    assert_eq!(result(&r), "ok", "{}", String::from_utf8_lossy(&r));
    let to_a = sdp_target(field(&r, "sdp").unwrap());
    assert_ne!(to_a, to_b);

    // Media both ways, bytes intact, from the node's advertised ports.
    for seq in 0..10u16 {
        let p = rtp(100 + seq, 0xA);
        a.send_to(&p, to_a).unwrap();
        let (got, from) = recv(&b);
        assert_eq!(got, p);
        assert_eq!(from, to_b, "B hears the node on the port B was offered");
        let q = rtp(500 + seq, 0xB);
        b.send_to(&q, to_b).unwrap();
        let (got, from) = recv(&a);
        assert_eq!(got, q);
        assert_eq!(from, to_a);
    }
    // RTCP: A's receiver report reaches B's RTCP socket.
    let rr = [0x80, 201, 0, 1, 0, 0, 0, 0xA];
    a_rtcp
        .send_to(&rr, SocketAddr::new(to_a.ip(), to_a.port() + 1))
        .unwrap();
    assert_eq!(recv(&b_rtcp).0, rr);
    // Junk on a media port is counted, not relayed.
    a.send_to(b"junk", to_a).unwrap();

    let mut query = Dict::new();
    query
        .insert("command", "query")
        .insert("call-id", call_id.as_str());
    let r = ng.request(&query);
    assert_eq!(result(&r), "ok", "{}", String::from_utf8_lossy(&r));

    let m = scrape(metrics_addr);
    assert_eq!(metric(&m, "ringwire_calls"), 1);
    assert_eq!(metric(&m, "ringwire_legs"), 2);
    assert!(metric(&m, "ringwire_packets_relayed_total") >= 21, "{m}");
    assert_eq!(
        metric(&m, "ringwire_ng_requests_total{command=\"offer\"}"),
        2
    );
    assert!(metric(&m, "ringwire_ng_errors_total") >= 2);
    // the workers' loop times: a histogram whose +Inf bucket is its count
    let loops = metric(&m, "ringwire_worker_loop_seconds_count");
    assert!(loops >= 1, "{m}");
    assert_eq!(
        metric(&m, "ringwire_worker_loop_seconds_bucket{le=\"+Inf\"}"),
        loops
    );
    assert!(metric(&m, "ringwire_worker_loop_seconds_bucket{le=\"0.00001\"}") <= loops);
    // The junk may still be in flight: wait for it to be counted.
    let t = Instant::now();
    while metric(
        &scrape(metrics_addr),
        "ringwire_drops_total{cause=\"malformed\"}",
    ) < 1
    {
        assert!(t.elapsed() < WAIT, "malformed datagram never counted");
        std::thread::sleep(Duration::from_millis(20));
    }

    // A is heard, so its port is pinned to A (`[media] pin_remote`, on by
    // default): a stranger's RTP there is dropped by the kernel, which the
    // host's NoPorts counter shows.
    let no_ports = |m: &str| metric(m, "ringwire_host_udp_no_ports_total");
    let before = no_ports(&scrape(metrics_addr));
    let stranger = UdpSocket::bind("127.0.0.1:0").unwrap();
    stranger.send_to(&rtp(900, 0xC), to_a).unwrap();
    let t = Instant::now();
    while no_ports(&scrape(metrics_addr)) <= before {
        assert!(
            t.elapsed() < WAIT,
            "the stranger's datagram was not dropped"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        metric(
            &scrape(metrics_addr),
            "ringwire_drops_total{cause=\"hijack\"}"
        ),
        0
    );

    let mut delete = Dict::new();
    delete
        .insert("command", "delete")
        .insert("call-id", call_id.as_str())
        .insert("from-tag", "tag-a");
    let r = ng.request(&delete);
    assert_eq!(result(&r), "ok", "{}", String::from_utf8_lossy(&r));
    // a deleted call waits out its delete delay (`timeouts.delete_delay`,
    // here 0.5 s), media and all: deleting it again then (a resent BYE) is
    // no news
    let r = ng.request(&delete);
    assert_eq!(result(&r), "ok", "{}", String::from_utf8_lossy(&r));
    assert_eq!(field(&r, "warning"), None);
    let m = scrape(metrics_addr);
    assert_eq!(metric(&m, "ringwire_calls_deleting"), 1);
    let p = rtp(900, 0xA);
    a.send_to(&p, to_a).unwrap();
    assert_eq!(recv(&b).0, p, "media in the delete delay");
    // then it is gone, its ports free (the node looks once a second), and
    // deleting it again is a warning, as rtpengine answers it
    let t = Instant::now();
    while metric(&scrape(metrics_addr), "ringwire_calls") > 0 {
        assert!(t.elapsed() < WAIT, "still there:\n{}", node.log());
        std::thread::sleep(Duration::from_millis(50));
    }
    let r = ng.request(&delete);
    assert_eq!(result(&r), "ok", "{}", String::from_utf8_lossy(&r));
    assert_eq!(field(&r, "warning"), Some(&b"Unknown call-id"[..]));
    // its end is logged with each side's codec and how its media arrived, as rtpengine
    // logs a call's final packet statistics: A's ten packets, the one
    // from sequence 900 in the delete delay (789 skipped: lost, as far as
    // the node can tell) and its junk datagram; B's ten
    let ended = format!(
        "call ended call={call_id} media=tag-a: {} -> port {} (PCMU/8000): \
         11 packets, 790 lost, 0 duplicates, 0 late, jitter ",
        a.local_addr().unwrap(),
        to_a.port()
    );
    let log = node.log();
    let line = log
        .lines()
        .find(|l| l.contains(&ended))
        .unwrap_or_else(|| panic!("no `{ended}` in:\n{log}"));
    let b_side = format!(
        "; tag-b: {} -> port {} (PCMU/8000): 10 packets, 0 lost, 0 duplicates, 0 late, jitter ",
        b.local_addr().unwrap(),
        to_b.port()
    );
    assert!(
        line.contains(" ms, 1 errors; ") && line.contains(&b_side),
        "{line}"
    );
    // and counted in the quality histograms: B's stream clean, A's not
    let m = scrape(metrics_addr);
    let loss = |le: &str| {
        metric(
            &m,
            &format!("ringwire_stream_loss_ratio_bucket{{le=\"{le}\"}}"),
        )
    };
    assert_eq!(
        (loss("0"), loss("0.1"), loss("+Inf")),
        (1, 1, 2),
        "{line}\n{m}"
    );
    assert_eq!(metric(&m, "ringwire_stream_jitter_seconds_count"), 2);
    assert_eq!(metric(&m, "ringwire_calls_deleting"), 0);
    assert_eq!(metric(&m, "ringwire_port_pairs_in_use"), 0);
    assert!(metric(&m, "ringwire_packets_relayed_total") >= 22);

    // SIGHUP reloads the config: live settings (the call limit, the media
    // timeout) are taken at once, a change that takes a restart (the
    // workers) is named and left as it runs, and a file that does not read
    // changes nothing
    let mut node = node;
    let path = temp_path("main.toml");
    let hangup = |node: &Node, then: &str, seen: usize| {
        node.signal(libc::SIGHUP);
        node.wait_for_log(then, seen);
    };
    let timeouts = "ringwire_media_timeouts_total{held=\"false\"}";
    let timed_out = metric(&scrape(metrics_addr), timeouts);
    let limited = config
        .replace("[media]\n", "[media]\nmax_calls = 1\n")
        .replace("threads = 2", "threads = 1")
        .replace("[timeouts]\n", "[timeouts]\nmedia = 0.5\n");
    std::fs::write(&path, &limited).unwrap();
    // the reload's last line: the changes it left for a restart, logged
    // just after "config reloaded"
    hangup(&node, "left as they run", 0);
    let log = node.log();
    assert!(
        log.contains("media.max_calls")
            && log.contains("timeouts.media")
            && log.contains("[workers]"),
        "{log}"
    );
    let offer_call = |ng: &mut Ng, n: u16| {
        let call = format!("reload-{}-{n}", std::process::id());
        let body = sdp(41000 + 2 * n, 41001 + 2 * n, n.into());
        result(&offer_supporting_load_limit(ng, &call, &body))
    };
    assert_eq!(offer_call(&mut ng, 0), "ok");
    assert_eq!(offer_call(&mut ng, 1), "load limit");
    // the new call's quiet legs time out after 0.5 s, not the 30 s the
    // node started with
    wait_for_metric(metrics_addr, timeouts, timed_out + 2, &node);
    std::fs::write(&path, limited.replace("max_calls = 1", "max_calls = oops")).unwrap();
    hangup(&node, "not reloaded", 0);
    assert!(node.log().contains("max_calls"), "{}", node.log());
    assert!(
        node.child.try_wait().unwrap().is_none(),
        "a bad reload ended the node"
    );
    assert_eq!(
        offer_call(&mut ng, 2),
        "load limit",
        "the limit stays as it was"
    );
    let reloads = |m: &str| {
        (
            metric(m, "ringwire_config_reloads_total{result=\"ok\"}"),
            metric(m, "ringwire_config_reloads_total{result=\"error\"}"),
            metric(m, "ringwire_config_last_reload_successful"),
        )
    };
    assert_eq!(reloads(&scrape(metrics_addr)), (1, 1, 0));
    std::fs::write(&path, &config).unwrap();
    hangup(&node, "config reloaded", 1);
    assert_eq!(offer_call(&mut ng, 2), "ok");
    assert_eq!(reloads(&scrape(metrics_addr)), (2, 1, 1));

    // SIGTERM: a clean exit, status 0.
    node.signal(libc::SIGTERM);
    let (status, _) = wait_exit(&mut node, Duration::from_secs(10));
    assert!(status.success(), "exit {status:?}; log:\n{}", node.log());
    assert!(node.log().contains("stopped"), "{}", node.log());
}

#[test]
fn the_log_level_is_the_configs_and_a_reload_changes_it() {
    let ng_port = free_udp_port();
    let config = |level: &str| {
        format!(
            "[control]\nng = \"127.0.0.1:{ng_port}\"\n[metrics]\nenabled = false\n\
             [media]\nport_min = 30440\nport_max = 30459\n[log]\nlevel = \"{level}\"\n"
        )
    };
    let node = spawn_at_config_level(&config("warn"), "log-level");
    let mut ng = Ng::new(format!("127.0.0.1:{ng_port}").parse().unwrap());
    wait_for_pong(&mut ng, &node);
    // at warn, the start (info) is not logged
    assert!(
        !node.log().contains("ringwire serve started"),
        "{}",
        node.log()
    );
    std::fs::write(temp_path("log-level.toml"), config("info")).unwrap();
    node.signal(libc::SIGHUP);
    // the reload is told at the new level
    node.wait_for_log("config reloaded", 0);
    assert!(node.log().contains("log.level"), "{}", node.log());
}

#[test]
fn bad_config_key_is_a_clear_error() {
    let node = spawn("[media]\nport_min = 30000\nbogus_key = 1\n", "bad");
    let mut node = node;
    let (status, _) = wait_exit(&mut node, Duration::from_secs(10));
    assert!(!status.success());
    let log = node.log();
    assert!(log.contains("bogus_key"), "{log}");
    assert!(log.contains("[media]"), "{log}");
}

#[test]
fn ng_commands_from_outside_the_allow_list_are_dropped_and_counted() {
    let metrics_port = free_tcp_port();
    let start = |allow: &str, name: &str| {
        let ng_port = free_udp_port();
        let config = format!(
            "[control]\nng = \"127.0.0.1:{ng_port}\"\nallow = [{allow}]\n\
             [metrics]\nlisten = \"127.0.0.1:{metrics_port}\"\n\
             [media]\nport_min = 30400\nport_max = 30419\n"
        );
        let node = spawn(&config, name);
        let addr: SocketAddr = format!("127.0.0.1:{ng_port}").parse().unwrap();
        (node, addr)
    };
    // the proxies' block holds loopback: answered
    let (node, addr) = start("\"10.0.0.0/8\", \"127.0.0.0/8\"", "allow-in");
    wait_for_pong(&mut Ng::new(addr), &node);
    drop(node);
    // it does not: never answered, counted
    let (node, addr) = start("\"10.0.0.0/8\"", "allow-out");
    // the node has started once its metrics answer
    let t = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", metrics_port)).is_err() {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "no start:\n{}",
            node.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let ng = Ng::new(addr);
    ng.socket
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    for i in 0..3 {
        ng.socket
            .send_to(format!("c{i} d7:command4:pinge").as_bytes(), addr)
            .unwrap();
        assert!(
            ng.socket.recv_from(&mut [0u8; 512]).is_err(),
            "answered from outside the allow list"
        );
    }
    let metrics = scrape(format!("127.0.0.1:{metrics_port}").parse().unwrap());
    assert_eq!(metric(&metrics, "ringwire_ng_refused_source_total"), 3);
    assert_eq!(
        metric(&metrics, "ringwire_ng_requests_total{command=\"ping\"}"),
        0
    );
    drop(node);
}

#[test]
fn check_says_whether_a_config_would_start() {
    let check = |config: &str, name: &str| {
        let path = temp_path(&format!("{name}.toml"));
        std::fs::write(&path, config).unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_ringwire"))
            .args(["serve", "--check", "--config"])
            .arg(&path)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        (out.status.success(), text)
    };
    // the example file, and a port already taken by someone else: --check
    // binds nothing, so it does not notice, and does not start a node
    let busy = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let config = format!(
        "[control]\nng = \"{}\"\n[media]\nport_min = 30000\nport_max = 30399\n\
         [detectors]\namd = true\n",
        busy.local_addr().unwrap()
    );
    let (ok, text) = check(&config, "check-good");
    assert!(ok, "{text}");
    assert!(
        text.starts_with("config OK: NG on 127.0.0.1:")
            && text.contains("ports 30000-30399 (100 calls)")
            && text.contains("detectors dtmf, amd"),
        "{text}"
    );
    let example = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../ringwire.example.toml"
    ))
    .unwrap();
    assert!(check(&example, "check-example").0);
    let (ok, text) = check("[media]\naddress = \"0.0.0.0\"\n", "check-bad");
    assert!(!ok);
    assert!(text.contains("media.advertise"), "{text}");
}

#[test]
fn offers_beyond_the_descriptor_limit_get_a_clear_error() {
    // 40 descriptors: a few for the node itself, then 2 sockets an offer
    let ng_port = free_udp_port();
    let base = 50000 + (std::process::id() % 70) as u16 * 200;
    let config = format!(
        "[control]\nng = \"127.0.0.1:{ng_port}\"\n[metrics]\nenabled = false\n\
         [media]\nport_min = {base}\nport_max = {}\n[workers]\nthreads = 1\n",
        base + 199
    );
    let node = spawn_with(&config, "nofile", Some(40));
    let ng_addr: SocketAddr = format!("127.0.0.1:{ng_port}").parse().unwrap();
    let mut ng = Ng::new(ng_addr);
    wait_for_pong(&mut ng, &node);
    let offer = |ng: &mut Ng, n: u32| {
        let call = format!("fd-{}-{n}", std::process::id());
        let sdp = sdp(40000 + 2 * n as u16, 40001 + 2 * n as u16, n);
        let r = offer_supporting_load_limit(ng, &call, &sdp);
        (
            result(&r),
            field(&r, "message").map(|e| String::from_utf8_lossy(e).into_owned()),
        )
    };
    let mut n = 0;
    let reason = loop {
        let (res, reason) = offer(&mut ng, n);
        if res != "ok" {
            // a proxy tries its next node on a load limit
            assert_eq!(res, "load limit", "{reason:?}");
            break reason.unwrap_or_default();
        }
        n += 1;
        assert!(n < 40, "40 offers on 40 descriptors; log:\n{}", node.log());
    };
    assert!(n >= 1, "not even one offer: {reason}; log:\n{}", node.log());
    assert_eq!(reason, "Ran out of file descriptors", "{}", node.log());
    // a re-offer that adds a stream to a call already here is no load
    // limit: the call cannot move to another node
    let first = format!("fd-{}-0", std::process::id());
    let two_streams = sdp(40000, 40001, 0) + "m=audio 41000 RTP/AVP 0\r\n";
    let r = offer_supporting_load_limit(&mut ng, &first, &two_streams);
    assert_eq!(
        (result(&r).as_str(), field(&r, "error-reason")),
        ("error", Some(&b"Ran out of file descriptors"[..])),
        "{}",
        String::from_utf8_lossy(&r)
    );
    // the port range was not the problem, nor is it used up by the refusals
    // (the delete asks for no delete delay: the call's sockets go at once)
    let mut del = Dict::new();
    del.insert("command", "delete")
        .insert("call-id", first.as_str())
        .insert("from-tag", "a")
        .insert("delete-delay", 0i64);
    assert_eq!(result(&ng.request(&del)), "ok");
    assert_eq!(offer(&mut ng, 100).0, "ok", "{}", node.log());
    let log = node.log();
    assert!(log.contains("open-descriptor limit is below"), "{log}");
    assert!(log.contains("raise the open-descriptor limit"), "{log}");
}

/// Waits for the node to exit; its status and how long that took.
fn wait_exit(node: &mut Node, within: Duration) -> (std::process::ExitStatus, Duration) {
    let t = Instant::now();
    loop {
        if let Some(s) = node.child.try_wait().unwrap() {
            return (s, t.elapsed());
        }
        assert!(t.elapsed() < within, "no exit:\n{}", node.log());
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn sigterm_drains_calls_up_to_the_drain_timeout() {
    // With `timeouts.drain`, a SIGTERM stops new calls while the calls up
    // keep their media and their answers, queries and deletes; the node
    // stops once the last is deleted and its delete delay over, or when
    // the timeout cuts the rest.
    let start = |drain: u32, name: &str| {
        let base = 31000 + (std::process::id() % 40) as u16 * 20;
        let (node, ng_port, metrics) = start_node(
            name,
            base,
            &format!("[timeouts]\ndrain = {drain}\ndelete_delay = 0.3\n"),
        );
        let ng = Ng::new(format!("127.0.0.1:{ng_port}").parse().unwrap());
        (node, ng, metrics)
    };
    let command = |ng: &mut Ng, command: &str, call: &str, sdp: Option<&str>| {
        let mut d = Dict::new();
        d.insert("command", command)
            .insert("call-id", call)
            .insert("from-tag", "tag-a")
            .insert("supports", Value::List(vec!["load limit".into()]));
        if command == "answer" {
            d.insert("to-tag", "tag-b");
        }
        if let Some(sdp) = sdp {
            d.insert("sdp", sdp);
        }
        ng.request(&d)
    };
    let sigterm = |node: &Node| {
        node.signal(libc::SIGTERM);
        node.wait_for_log("draining", 0);
    };
    let (a, b) = (endpoint(), endpoint());
    let port = |s: &UdpSocket| s.local_addr().unwrap().port();
    let (sdp_a, sdp_b) = (sdp(port(&a), 9, 1), sdp(port(&b), 9, 2));

    let (mut node, mut ng, metrics) = start(30, "drain");
    let call = format!("drain-{}", std::process::id());
    let r = command(&mut ng, "offer", &call, Some(&sdp_a));
    let to_b = sdp_target(field(&r, "sdp").unwrap());
    sigterm(&node);
    // a new call is refused, as over a load limit (a proxy tries its next
    // node), and counted
    let r = command(&mut ng, "offer", "another", Some(&sdp_a));
    assert_eq!(result(&r), "load limit");
    let reason = String::from_utf8_lossy(field(&r, "message").unwrap()).into_owned();
    assert!(reason.contains("draining"), "{reason}");
    assert_eq!(
        metric(&scrape(metrics), "ringwire_ng_refused_draining_total"),
        1
    );
    // the call up is answered and carries media
    let r = command(&mut ng, "answer", &call, Some(&sdp_b));
    assert_eq!(result(&r), "ok", "{}", String::from_utf8_lossy(&r));
    let to_a = sdp_target(field(&r, "sdp").unwrap());
    let p = rtp(1, 0xA);
    a.send_to(&p, to_a).unwrap();
    assert_eq!(recv(&b), (p, to_b));
    assert_eq!(result(&command(&mut ng, "query", &call, None)), "ok");
    // deleting the last call stops the node well before the timeout
    assert_eq!(result(&command(&mut ng, "delete", &call, None)), "ok");
    let (status, took) = wait_exit(&mut node, Duration::from_secs(10));
    assert!(status.success(), "{status:?}:\n{}", node.log());
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert!(node.log().contains("calls_cut=0"), "{}", node.log());

    // a call nobody deletes is cut when the drain timeout passes
    let (mut node, mut ng, _) = start(1, "drain-cut");
    let r = command(&mut ng, "offer", &call, Some(&sdp_a));
    assert_eq!(result(&r), "ok");
    let t = Instant::now();
    sigterm(&node);
    let (status, _) = wait_exit(&mut node, Duration::from_secs(10));
    assert!(status.success(), "{status:?}:\n{}", node.log());
    assert!(
        t.elapsed() >= Duration::from_millis(900),
        "{:?}",
        t.elapsed()
    );
    assert!(node.log().contains("calls_cut=1"), "{}", node.log());

    // a reload during a drain moves its end: a 30 s drain cut to 1 s
    let (mut node, mut ng, _) = start(30, "drain-reload");
    let r = command(&mut ng, "offer", &call, Some(&sdp_a));
    assert_eq!(result(&r), "ok");
    sigterm(&node);
    let path = temp_path("drain-reload.toml");
    let file = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, file.replace("drain = 30", "drain = 1")).unwrap();
    node.signal(libc::SIGHUP);
    let (status, took) = wait_exit(&mut node, Duration::from_secs(10));
    assert!(status.success(), "{status:?}:\n{}", node.log());
    assert!(took < Duration::from_secs(5), "{took:?}");
    let log = node.log();
    assert!(
        log.contains("timeouts.drain") && log.contains("calls_cut=1"),
        "{log}"
    );
}

#[test]
fn media_timeouts_of_held_and_deleted_calls_are_no_trouble() {
    // An agent's hold without music leaves both legs quiet by design; their
    // media timeouts are counted under held="true" and logged at debug, so
    // an alert on ringwire_media_timeouts_total{held="false"} means trouble
    // (a dead endpoint, one-way audio) and not a customer on hold.
    let base = 33000 + (std::process::id() % 40) as u16 * 20;
    let (node, ng_port, metrics) = start_node("held-timeouts", base, "[timeouts]\nmedia = 0.3\n");
    let mut ng = Ng::new(format!("127.0.0.1:{ng_port}").parse().unwrap());
    for (n, (call, offered, answered)) in [
        ("plain", "sendrecv", "sendrecv"),
        ("hold", "sendonly", "recvonly"),
        ("ended", "sendrecv", "sendrecv"),
    ]
    .into_iter()
    .enumerate()
    {
        let n = n as u16;
        for (command, dir, port, tags) in [
            ("offer", offered, 40_000 + 4 * n, vec![("from-tag", "a")]),
            (
                "answer",
                answered,
                40_002 + 4 * n,
                vec![("from-tag", "a"), ("to-tag", "b")],
            ),
        ] {
            let sdp = sdp(port, 9, 1).replace("a=sendrecv", &format!("a={dir}"));
            let mut d = Dict::new();
            d.insert("command", command)
                .insert("call-id", call)
                .insert("sdp", sdp.as_str());
            for (k, v) in tags {
                d.insert(k, v);
            }
            let r = ng.request(&d);
            assert_eq!(
                result(&r),
                "ok",
                "{call} {command}: {}",
                String::from_utf8_lossy(&r)
            );
        }
    }
    let delete = |ng: &mut Ng, call: &str| {
        let mut d = Dict::new();
        d.insert("command", "delete")
            .insert("call-id", call)
            .insert("from-tag", "a");
        assert_eq!(result(&ng.request(&d)), "ok");
    };
    // a call the proxy deleted waits out its delete delay (30 s): its
    // legs' quiet is no trouble either, and counted nowhere
    delete(&mut ng, "ended");
    assert_eq!(metric(&scrape(metrics), "ringwire_calls_deleting"), 1);
    assert_eq!(metric(&scrape(metrics), "ringwire_calls_held"), 1);
    let series = |held: &str| format!("ringwire_media_timeouts_total{{held=\"{held}\"}}");
    wait_for_metric(metrics, &series("false"), 2, &node);
    wait_for_metric(metrics, &series("true"), 2, &node);
    // the ended call's legs timed out with the others', and nothing more
    // times out afterwards
    std::thread::sleep(Duration::from_millis(500));
    let body = scrape(metrics);
    assert_eq!(
        (
            metric(&body, &series("false")),
            metric(&body, &series("true"))
        ),
        (2, 2),
        "timeouts (plain, held):\n{}",
        node.log()
    );
    delete(&mut ng, "hold");
    assert_eq!(metric(&scrape(metrics), "ringwire_calls_held"), 0);
}
