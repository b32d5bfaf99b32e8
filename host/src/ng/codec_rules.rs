//! rtpengine's codec options, as a node that does not transcode can honour
//! them: the NG `codec` dictionary (`strip`, `mask`, `consume`, `except`,
//! `offer`, `transcode`; Kamailio's `codec-strip=NAME` flags arrive as
//! that) and the `codec-strip-NAME` style items of `flags`. Codecs are
//! taken out of the SDP passed on and offered ones put back in the order
//! asked, so a dialer can keep its calls on G.711, the codecs the
//! detectors read (`codec-strip=all codec-except=PCMU codec-except=PCMA`).
//!
//! Without transcoding `mask` and `consume` are `strip`; `accept`, `set`
//! and `ignore` change nothing. A rule that would leave a section without
//! a codec that carries media leaves it as written, and a codec to
//! `transcode` that the section lacks is not added: both with a warning.

use std::fmt;

use super::bencode::Value;
use super::command::{key_eq, CommandError};
use super::sdp::{PayloadType, Sdp};

/// A codec as the options name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodecName<'a> {
    /// `all` (or `full`): every codec of the section.
    All,
    /// `ENCODING[/RATE[/CHANNELS]]`; the encoding matched without regard
    /// to case, a channel count left out of an rtpmap is 1.
    Named {
        /// `PCMU`, `telephone-event`, ...
        encoding: &'a str,
        /// The clock rate, when named.
        clock_rate: Option<u32>,
        /// The channels, when named.
        channels: Option<u16>,
    },
}

impl<'a> CodecName<'a> {
    /// Reads `all`, `full` or `ENCODING[/RATE[/CHANNELS]]`; `None` for an
    /// empty encoding or a rate or channel count that is not a number.
    pub fn parse(name: &'a str) -> Option<Self> {
        let name = name.trim();
        if name.eq_ignore_ascii_case("all") || name.eq_ignore_ascii_case("full") {
            return Some(CodecName::All);
        }
        let mut parts = name.split('/');
        let encoding = parts.next().filter(|e| !e.is_empty())?;
        let clock_rate = parts.next().map(str::parse).transpose().ok()?;
        let channels = parts.next().map(str::parse).transpose().ok()?;
        if parts.next().is_some() {
            return None;
        }
        Some(CodecName::Named {
            encoding,
            clock_rate,
            channels,
        })
    }

    /// Whether this name, other than `all`, names payload type `pt`.
    fn names(&self, pt: Option<&PayloadType<'_>>) -> bool {
        let (
            CodecName::Named {
                encoding,
                clock_rate,
                channels,
            },
            Some(pt),
        ) = (self, pt)
        else {
            return false;
        };
        pt.encoding.eq_ignore_ascii_case(encoding)
            && clock_rate.is_none_or(|r| r == pt.clock_rate)
            && channels.is_none_or(|c| c == pt.channels.unwrap_or(1))
    }
}

impl fmt::Display for CodecName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CodecName::All => f.write_str("all"),
            CodecName::Named {
                encoding,
                clock_rate,
                channels,
            } => {
                f.write_str(encoding)?;
                if let Some(r) = clock_rate {
                    write!(f, "/{r}")?;
                }
                if let Some(c) = channels {
                    write!(f, "/{c}")?;
                }
                Ok(())
            }
        }
    }
}

/// The codec options of one offer or answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CodecRules<'a> {
    /// `strip`, `mask`, `consume`: taken out of the SDP passed on.
    pub strip: Vec<CodecName<'a>>,
    /// `except`: kept where `strip` names `all`.
    pub except: Vec<CodecName<'a>>,
    /// `offer`: put back where stripped, after the codecs kept, in this
    /// order.
    pub offer: Vec<CodecName<'a>>,
    /// `transcode`: as `offer`; one the section lacks is not added.
    pub transcode: Vec<CodecName<'a>>,
}

/// Which rule list an option adds to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rule {
    Strip,
    Except,
    Offer,
    Transcode,
    /// Meaningful only where the node transcodes.
    Nothing,
}

/// The option names, as the `codec` dictionary spells them.
const RULES: [(&str, Rule); 9] = [
    ("strip", Rule::Strip),
    ("mask", Rule::Strip),
    ("consume", Rule::Strip),
    ("except", Rule::Except),
    ("offer", Rule::Offer),
    ("transcode", Rule::Transcode),
    ("accept", Rule::Nothing),
    ("set", Rule::Nothing),
    ("ignore", Rule::Nothing),
];

impl<'a> CodecRules<'a> {
    /// Reads a request's `codec` dictionary (each entry a list of codec
    /// names, or one name) and its `codec-strip-NAME` (or `codec-strip=NAME`,
    /// `transcode-NAME`) flags.
    pub fn parse(codec: Option<&Value<'a>>, flags: &[&'a str]) -> Result<Self, CommandError> {
        let bad = |reason| CommandError::InvalidValue {
            key: "codec",
            reason,
        };
        let mut rules = CodecRules::default();
        if let Some(value) = codec {
            let dict = value
                .as_dict()
                .ok_or(bad("expected a dictionary of codec lists"))?;
            for (key, names) in dict.iter() {
                let Some(&(_, rule)) = RULES.iter().find(|(k, _)| key_eq(key, k)) else {
                    continue;
                };
                let names = match names {
                    Value::List(items) => items.as_slice(),
                    one => std::slice::from_ref(one),
                };
                for name in names {
                    let name = name
                        .as_str()
                        .ok_or(bad("expected codec names as strings"))?;
                    rules.add(rule, name)?;
                }
            }
        }
        for flag in flags {
            if let Some((rule, name)) = codec_flag(flag) {
                rules.add(rule, name)?;
            }
        }
        Ok(rules)
    }

    fn add(&mut self, rule: Rule, name: &'a str) -> Result<(), CommandError> {
        let name = CodecName::parse(name).ok_or(CommandError::InvalidValue {
            key: "codec",
            reason: "expected codec names as ENCODING[/RATE[/CHANNELS]] or all",
        })?;
        match rule {
            Rule::Strip => self.strip.push(name),
            Rule::Except => self.except.push(name),
            Rule::Offer => self.offer.push(name),
            Rule::Transcode => self.transcode.push(name),
            Rule::Nothing => {}
        }
        Ok(())
    }

    /// Whether the rules can change an SDP: only stripping and transcoding
    /// do (`except` and `offer` only temper a `strip`).
    pub fn is_empty(&self) -> bool {
        self.strip.is_empty() && self.transcode.is_empty()
    }

    /// What the rules make of `sdp`: the formats each media section over
    /// RTP keeps, and why any rule was not followed.
    pub fn plan<'s>(&self, sdp: &Sdp<'s>) -> CodecPlan<'s> {
        let mut plan = CodecPlan::default();
        for (i, media) in sdp.media.iter().enumerate() {
            if media.port == 0 || !media.proto.contains("RTP") {
                plan.keep.push(None);
                continue;
            }
            let pt_of = |format: &str| {
                let pt = format.parse::<u8>().ok()?;
                media.payload_types.iter().find(|p| p.pt == pt)
            };
            let named = |names: &[CodecName<'_>], format: &str| {
                names.iter().any(|n| n.names(pt_of(format)))
            };
            // `all` spares what `except` names; a codec named in `strip`
            // goes whatever `except` says
            let strip_all = self.strip.contains(&CodecName::All);
            let stripped = |f| named(&self.strip, f) || (strip_all && !named(&self.except, f));
            let mut kept: Vec<&'s str> = media
                .formats
                .iter()
                .copied()
                .filter(|&f| !stripped(f))
                .collect();
            // offered codecs go back in after the codecs kept, before any
            // events or comfort noise, as rtpengine orders them
            for name in self.offer.iter().chain(&self.transcode) {
                for &f in &media.formats {
                    if name.names(pt_of(f)) && !kept.contains(&f) {
                        let at = kept
                            .iter()
                            .position(|&k| is_supplementary(pt_of(k)))
                            .unwrap_or(kept.len());
                        kept.insert(at, f);
                    }
                }
            }
            for name in &self.transcode {
                let lacking = !media.formats.iter().any(|&f| name.names(pt_of(f)));
                if *name != CodecName::All && lacking {
                    plan.warnings.push(format!(
                        "media section {}: no {name} to offer (ringwire does not transcode)",
                        i + 1
                    ));
                }
            }
            if kept == media.formats {
                plan.keep.push(None);
            } else if kept.iter().all(|&f| is_supplementary(pt_of(f))) {
                plan.warnings.push(format!(
                    "media section {}: the codec options leave no codec, so it is passed on as written",
                    i + 1
                ));
                plan.keep.push(None);
            } else {
                plan.keep.push(Some(kept));
            }
        }
        plan
    }
}

/// Whether a payload type carries no media of its own: DTMF events
/// (RFC 4733) or comfort noise.
fn is_supplementary(pt: Option<&PayloadType<'_>>) -> bool {
    pt.is_some_and(|p| {
        p.encoding.eq_ignore_ascii_case("telephone-event") || p.encoding.eq_ignore_ascii_case("CN")
    })
}

/// A `codec-strip-NAME` style flag (also `codec-strip=NAME`, and
/// `transcode-NAME` as Kamailio spells it): its rule and name.
fn codec_flag(flag: &str) -> Option<(Rule, &str)> {
    let (op, name) = match loose_prefix(flag, "codec-") {
        Some(rest) => {
            let end = rest.find(['-', '_', ' ', '='])?;
            (&rest[..end], &rest[end + 1..])
        }
        None => (
            "transcode",
            loose_prefix(flag, "transcode")?.strip_prefix(['-', '_', ' ', '='])?,
        ),
    };
    let &(_, rule) = RULES.iter().find(|(k, _)| key_eq(op.as_bytes(), k))?;
    Some((rule, name)).filter(|(_, n)| !n.is_empty())
}

/// `s` after `prefix`, spelt as NG keys may be (case, `-`, `_`, space).
fn loose_prefix<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    // an ASCII prefix matched: its length is a character boundary
    let head = s.as_bytes().get(..prefix.len())?;
    key_eq(head, prefix).then(|| &s[prefix.len()..])
}

/// What [`CodecRules::plan`] makes of one SDP.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CodecPlan<'s> {
    /// Per media section, the formats it keeps in their new order; `None`
    /// where it stays as written.
    pub keep: Vec<Option<Vec<&'s str>>>,
    /// Rules not followed, for the reply's `warning`.
    pub warnings: Vec<String>,
}

impl CodecPlan<'_> {
    /// Whether any section changes.
    pub fn changes(&self) -> bool {
        self.keep.iter().any(Option::is_some)
    }

    /// The warnings as one line, if any.
    pub fn warning(&self) -> Option<String> {
        (!self.warnings.is_empty()).then(|| self.warnings.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ng::bencode::{decode, Value};

    const OFFER: &str = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n\
        m=audio 4000 RTP/AVP 0 18 8 9 101\r\na=rtpmap:18 G729/8000\r\na=fmtp:18 annexb=no\r\n\
        a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n\
        m=image 4002 udptl t38\r\n";

    /// The formats of the first section after `rules` (from bencoded
    /// `codec` dictionary `dict`, or `d...e` for none, and `flags`), and
    /// the warning.
    fn kept(dict: &str, flags: &[&str]) -> (String, Option<String>) {
        let value = decode(dict.as_bytes()).unwrap();
        let codec = matches!(&value, Value::Dict(d) if d.iter().next().is_some()).then_some(&value);
        let rules = CodecRules::parse(codec, flags).unwrap();
        let sdp = Sdp::parse(OFFER.as_bytes()).unwrap();
        let plan = rules.plan(&sdp);
        assert_eq!(plan.keep[1], None, "T.38 is no RTP");
        let formats = plan.keep[0]
            .clone()
            .unwrap_or_else(|| sdp.media[0].formats.clone());
        (formats.join(" "), plan.warning())
    }

    fn formats(dict: &str, flags: &[&str]) -> String {
        let (f, warning) = kept(dict, flags);
        assert_eq!(warning, None);
        f
    }

    #[test]
    fn strip_takes_codecs_out_by_name_rate_and_channels() {
        assert_eq!(formats("d5:stripl4:G729ee", &[]), "0 8 9 101");
        assert_eq!(formats("d5:stripl4:g729ee", &[]), "0 8 9 101");
        assert_eq!(formats("d5:stripl9:PCMA/8000ee", &[]), "0 18 9 101");
        assert_eq!(formats("d5:stripl10:PCMA/16000ee", &[]), "0 18 8 9 101");
        assert_eq!(formats("d5:stripl11:PCMU/8000/1ee", &[]), "18 8 9 101");
        assert_eq!(formats("d5:stripl15:telephone-eventee", &[]), "0 18 8 9");
        // one name for a list, and `mask` and `consume` strip as well
        assert_eq!(formats("d5:strip4:G729e", &[]), "0 8 9 101");
        assert_eq!(formats("d4:maskl4:PCMAee", &[]), "0 18 9 101");
        assert_eq!(formats("d7:consumel4:G722ee", &[]), "0 18 8 101");
    }

    #[test]
    fn except_and_offer_keep_codecs_from_strip_all_in_their_orders() {
        let g711 = "d5:stripl3:alle6:exceptl4:PCMA4:PCMUee";
        assert_eq!(formats(g711, &[]), "0 8");
        assert_eq!(formats("d5:stripl3:alle5:offerl4:PCMA4:PCMUee", &[]), "8 0");
        assert_eq!(
            formats("d5:stripl4:G7294:PCMUe5:offerl4:PCMUee", &[]),
            "8 9 0 101"
        );
        // except does not overrule a codec stripped by name
        assert_eq!(
            formats("d5:stripl4:PCMAe6:exceptl4:PCMAee", &[]),
            "0 18 9 101"
        );
        // without a strip, except and offer change nothing
        assert_eq!(
            formats("d6:exceptl4:PCMAe5:offerl4:PCMAee", &[]),
            "0 18 8 9 101"
        );
        // accept and set ask for transcoding, which the node does not do
        assert_eq!(
            formats("d6:acceptl4:PCMAe3:setl4:PCMAee", &[]),
            "0 18 8 9 101"
        );
    }

    #[test]
    fn flags_name_the_same_rules() {
        assert_eq!(
            formats("de", &["codec-strip-all", "codec-except-PCMU"]),
            "0"
        );
        assert_eq!(
            formats("de", &["codec-strip=G729", "symmetric"]),
            "0 8 9 101"
        );
        assert_eq!(formats("de", &["CODEC_STRIP_telephone-event"]), "0 18 8 9");
        assert_eq!(formats("de", &["codec-mask-PCMA"]), "0 18 9 101");
        assert_eq!(formats("de", &["codec-strip-"]), "0 18 8 9 101");
    }

    #[test]
    fn rules_that_cannot_be_followed_warn_and_change_nothing() {
        let (f, w) = kept("d5:stripl3:allee", &[]);
        assert_eq!(f, "0 18 8 9 101");
        assert!(w.unwrap().contains("leave no codec"));
        // events alone are no codec either
        let (f, w) = kept("d5:stripl4:PCMU4:G7294:PCMA4:G722ee", &[]);
        assert_eq!(f, "0 18 8 9 101");
        assert!(w.is_some());
        let (f, w) = kept("d9:transcodel4:opusee", &[]);
        assert_eq!(f, "0 18 8 9 101");
        assert!(w.unwrap().contains("no opus to offer"));
        // `all` names no codec to add
        assert_eq!(
            kept("d9:transcodel3:allee", &[]),
            ("0 18 8 9 101".into(), None)
        );
        // a transcode of a codec the section has keeps it as offer would
        assert_eq!(formats("d5:stripl3:alle9:transcodel4:G722ee", &[]), "9");
    }

    #[test]
    fn malformed_options_are_errors() {
        let value = decode(b"l4:PCMUe").unwrap();
        assert!(CodecRules::parse(Some(&value), &[]).is_err());
        let value = decode(b"d5:stripli8eee").unwrap();
        assert!(CodecRules::parse(Some(&value), &[]).is_err());
        let value = decode(b"d5:stripl7:PCMU/8kee").unwrap();
        assert!(CodecRules::parse(Some(&value), &[]).is_err());
        assert!(CodecRules::parse(None, &["codec-strip-PCMU/x"]).is_err());
    }
}
