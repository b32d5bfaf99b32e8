//! The codec a media section names first, as rtpengine reports it in
//! `query` (`PCMU/8000`, `opus/48000/2`).

use super::sdp::Media;
use super::short_name::ShortName;

/// The first codec of `media` in its order of preference that carries
/// media (not `telephone-event` nor comfort noise `CN`): `ENCODING/RATE`,
/// with `/CHANNELS` where the rtpmap gives more than one. `None` where the
/// section names none (T.38, all events, unknown dynamic types).
pub fn first_codec(media: &Media<'_>) -> Option<ShortName> {
    media
        .formats
        .iter()
        .filter_map(|f| f.parse::<u8>().ok())
        .filter_map(|pt| media.payload_types.iter().find(|p| p.pt == pt))
        .find(|p| {
            !p.encoding.eq_ignore_ascii_case("telephone-event")
                && !p.encoding.eq_ignore_ascii_case("CN")
        })
        .map(|p| {
            let mut name = format!("{}/{}", p.encoding, p.clock_rate);
            if let Some(ch) = p.channels.filter(|&c| c > 1) {
                name.push_str(&format!("/{ch}"));
            }
            ShortName::new(&name)
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ng::sdp::Sdp;

    fn first(body: &str) -> Option<String> {
        let sdp = Sdp::parse(body.as_bytes()).unwrap();
        first_codec(&sdp.media[0]).map(|c| c.to_string())
    }

    const HEAD: &str = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n";

    #[test]
    fn the_first_codec_that_carries_media_in_preference_order() {
        let pcma =
            format!("{HEAD}m=audio 4000 RTP/AVP 101 8 0\r\na=rtpmap:101 telephone-event/8000\r\n");
        // static types need no rtpmap
        assert_eq!(first(&pcma).as_deref(), Some("PCMA/8000"));
        let opus = format!("{HEAD}m=audio 4000 RTP/AVP 13 111 0\r\na=rtpmap:111 opus/48000/2\r\n");
        assert_eq!(first(&opus).as_deref(), Some("opus/48000/2"));
        let events_only =
            format!("{HEAD}m=audio 4000 RTP/AVP 101\r\na=rtpmap:101 telephone-event/8000\r\n");
        assert_eq!(first(&events_only), None);
        let t38 = format!("{HEAD}m=image 4000 udptl t38\r\n");
        assert_eq!(first(&t38), None);
    }
}
