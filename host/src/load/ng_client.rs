//! A blocking NG client: one request at a time over UDP, with a unique
//! cookie per request, retransmission on timeout, and the reply matched by
//! cookie (late replies to earlier retransmissions are skipped).

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use thiserror::Error;

use crate::ng::bencode::{self, Dict};

/// Why an NG request failed.
#[derive(Debug, Error)]
pub enum NgClientError {
    /// The socket could not be opened, or a send or receive failed.
    #[error("NG socket: {0}")]
    Io(#[from] io::Error),
    /// No reply with our cookie after every retransmission.
    #[error("no NG reply from {addr} after {tries} tries")]
    Timeout {
        /// The node's NG address.
        addr: SocketAddr,
        /// Requests sent.
        tries: u32,
    },
    /// The reply was not a bencoded dictionary with a `result`.
    #[error("malformed NG reply: {0}")]
    Malformed(String),
    /// The node answered `result: error`.
    #[error("node refused {command}: {reason}")]
    Refused {
        /// The NG command.
        command: String,
        /// The node's `error-reason`.
        reason: String,
    },
}

/// What the load generator needs from an NG reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NgReply {
    /// `result`: `ok`, `pong`, `error`, ...
    pub result: String,
    /// `error-reason` (or a `load limit` reply's `message`), when the
    /// node gave one.
    pub error_reason: Option<String>,
    /// `sdp`, for offer and answer.
    pub sdp: Option<Vec<u8>>,
    /// For `query` and `delete`: the average MOS (times ten) of each SSRC
    /// entry the node scored, in its `SSRC` dict.
    pub mos_x10: Vec<i64>,
}

/// A blocking NG client bound to a loopback UDP port.
#[derive(Debug)]
pub struct NgClient {
    socket: UdpSocket,
    addr: SocketAddr,
    prefix: String,
    next: u64,
    timeout: Duration,
    tries: u32,
    buf: Vec<u8>,
}

impl NgClient {
    /// Opens a client for the node at `addr` (1 s per try, 3 tries).
    pub fn connect(addr: SocketAddr) -> Result<Self, NgClientError> {
        let local: SocketAddr = if addr.is_ipv6() {
            "[::1]:0".parse().expect("literal")
        } else {
            "127.0.0.1:0".parse().expect("literal")
        };
        let socket = UdpSocket::bind(local)?;
        socket.connect(addr)?;
        Ok(NgClient {
            socket,
            addr,
            prefix: format!("rwl{}", std::process::id()),
            next: 0,
            timeout: Duration::from_secs(1),
            tries: 3,
            buf: vec![0; 65536],
        })
    }

    /// Sets how long to wait for each try and how many tries to make.
    pub fn set_retry(&mut self, timeout: Duration, tries: u32) {
        self.timeout = timeout;
        self.tries = tries.max(1);
    }

    /// Sends `dict` and returns the decoded reply, `result: error` included.
    pub fn request(&mut self, dict: &Dict<'_>) -> Result<NgReply, NgClientError> {
        self.next += 1;
        let cookie = format!("{}_{}", self.prefix, self.next);
        let mut datagram = Vec::with_capacity(512);
        datagram.extend_from_slice(cookie.as_bytes());
        datagram.push(b' ');
        dict.encode(&mut datagram);
        for _ in 0..self.tries {
            self.socket.send(&datagram)?;
            let deadline = Instant::now() + self.timeout;
            loop {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                self.socket.set_read_timeout(Some(left))?;
                let n = match self.socket.recv(&mut self.buf) {
                    Ok(n) => n,
                    Err(e)
                        if e.kind() == io::ErrorKind::WouldBlock
                            || e.kind() == io::ErrorKind::TimedOut =>
                    {
                        break
                    }
                    // A previous send bounced (ICMP port unreachable): the
                    // node is not up yet; wait out this try.
                    Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                        std::thread::sleep(left.min(Duration::from_millis(50)));
                        continue;
                    }
                    Err(e) => return Err(e.into()),
                };
                let msg = &self.buf[..n];
                let Some(body) = msg
                    .strip_prefix(cookie.as_bytes())
                    .and_then(|b| b.strip_prefix(b" "))
                else {
                    continue; // a late reply to an earlier request
                };
                return parse_reply(body);
            }
        }
        Err(NgClientError::Timeout {
            addr: self.addr,
            tries: self.tries,
        })
    }

    /// Sends `dict` and fails with [`NgClientError::Refused`] unless the
    /// result is `ok` or `pong`.
    pub fn request_ok(&mut self, dict: &Dict<'_>) -> Result<NgReply, NgClientError> {
        let reply = self.request(dict)?;
        if reply.result == "ok" || reply.result == "pong" {
            return Ok(reply);
        }
        let command = dict
            .get(b"command")
            .and_then(|v| v.as_str())
            .unwrap_or("?")
            .to_string();
        Err(NgClientError::Refused {
            command,
            reason: reply
                .error_reason
                .unwrap_or_else(|| format!("result {}", reply.result)),
        })
    }

    /// `ping`; `Ok` when the node answers `pong`.
    pub fn ping(&mut self) -> Result<(), NgClientError> {
        let mut d = Dict::new();
        d.insert("command", "ping");
        self.request_ok(&d).map(|_| ())
    }
}

/// Decodes an NG reply body (without the cookie).
pub fn parse_reply(body: &[u8]) -> Result<NgReply, NgClientError> {
    let value = bencode::decode(body).map_err(|e| NgClientError::Malformed(e.to_string()))?;
    let dict = value
        .as_dict()
        .ok_or_else(|| NgClientError::Malformed(format!("a {}", value.type_name())))?;
    let result = dict
        .get(b"result")
        .and_then(|v| v.as_str())
        .ok_or_else(|| NgClientError::Malformed("no result".into()))?
        .to_string();
    Ok(NgReply {
        result,
        error_reason: dict
            .get(b"error-reason")
            .or_else(|| dict.get(b"message"))
            .and_then(|v| v.as_bytes())
            .map(|b| String::from_utf8_lossy(b).into_owned()),
        sdp: dict
            .get(b"sdp")
            .and_then(|v| v.as_bytes())
            .map(<[u8]>::to_vec),
        mos_x10: dict
            .get(b"SSRC")
            .and_then(|v| v.as_dict())
            .map(|ssrcs| {
                ssrcs
                    .iter()
                    .filter_map(|(_, entry)| {
                        entry
                            .as_dict()?
                            .get(b"average MOS")?
                            .as_dict()?
                            .get(b"MOS")?
                            .as_int()
                    })
                    .collect()
            })
            .unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_delete_reply_gives_the_average_mos_of_each_scored_ssrc() {
        let body = b"d4:SSRCd2:11d11:average MOSd3:MOSi43e7:samplesi2eee2:12de2:13d11:average MOSd3:MOSi39eeee6:result2:oke";
        let r = parse_reply(body).unwrap();
        assert_eq!((r.result.as_str(), r.mos_x10), ("ok", vec![43, 39]));
    }

    #[test]
    fn a_load_limit_reply_gives_its_message_as_the_reason() {
        let r = parse_reply(b"d7:message30:node is draining: no new calls6:result10:load limite")
            .unwrap();
        assert_eq!(r.result, "load limit");
        assert_eq!(
            r.error_reason.as_deref(),
            Some("node is draining: no new calls")
        );
        let r = parse_reply(b"d12:error-reason3:bad6:result5:errore").unwrap();
        assert!(r.mos_x10.is_empty());
        assert_eq!(
            (r.result.as_str(), r.error_reason.as_deref()),
            ("error", Some("bad"))
        );
    }
}
