use super::*;
use std::net::{Ipv4Addr, Ipv6Addr};

const G711: [AudioCodec; 2] = [AudioCodec::Pcmu, AudioCodec::Pcma];

/// The body SIPp's built-in `uac` scenario sends (LF only, as in its XML).
const SIPP_OFFER: &str = "v=0\n\
    o=user1 53655765 2353687637 IN IP4 127.0.0.1\n\
    s=-\n\
    c=IN IP4 127.0.0.1\n\
    t=0 0\n\
    m=audio 6000 RTP/AVP 0\n\
    a=rtpmap:0 PCMU/8000\n";

/// baresip 1.x with opus and G.722 ahead of G.711.
const BARESIP_OFFER: &str = "v=0\r\n\
    o=- 1656433436 3917207223 IN IP4 192.168.1.10\r\n\
    s=-\r\n\
    c=IN IP4 192.168.1.10\r\n\
    t=0 0\r\n\
    m=audio 10362 RTP/AVP 96 9 0 8 101\r\n\
    b=AS:88\r\n\
    a=rtpmap:96 opus/48000/2\r\n\
    a=fmtp:96 stereo=1;sprop-stereo=1\r\n\
    a=rtpmap:9 G722/8000\r\n\
    a=rtpmap:0 PCMU/8000\r\n\
    a=rtpmap:8 PCMA/8000\r\n\
    a=rtpmap:101 telephone-event/8000\r\n\
    a=fmtp:101 0-15\r\n\
    a=sendrecv\r\n\
    a=label:1\r\n\
    a=rtcp-rsize\r\n\
    a=ssrc:1184906151 cname:4b1c1e0f-6c4e-4a0b-9d7b-f0d4e4c8e1aa\r\n";

/// Asterisk chan_pjsip: PCMA first, GSM, telephone-event 101.
const ASTERISK_OFFER: &str = "v=0\r\n\
    o=- 1821318483 1821318485 IN IP4 10.0.0.5\r\n\
    s=Asterisk\r\n\
    c=IN IP4 10.0.0.5\r\n\
    t=0 0\r\n\
    m=audio 17070 RTP/AVP 8 0 3 101\r\n\
    a=rtpmap:8 PCMA/8000\r\n\
    a=rtpmap:0 PCMU/8000\r\n\
    a=rtpmap:3 GSM/8000\r\n\
    a=rtpmap:101 telephone-event/8000\r\n\
    a=fmtp:101 0-16\r\n\
    a=ptime:20\r\n\
    a=maxptime:150\r\n\
    a=sendrecv\r\n";

fn parse(text: &str) -> Sdp {
    match Sdp::parse(text.as_bytes()) {
        Ok(sdp) => sdp,
        Err(e) => panic!("test SDP must parse: {e}"),
    }
}

fn negotiated(text: &str) -> Negotiated {
    match negotiate(&parse(text), &G711) {
        Ok(n) => n,
        Err(e) => panic!("test offer must negotiate: {e}"),
    }
}

fn text(bytes: Vec<u8>) -> String {
    match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => panic!("built SDP must be UTF-8: {e}"),
    }
}

#[test]
fn sipp_offer_with_lf_only_lines_is_parsed() {
    let sdp = parse(SIPP_OFFER);
    assert_eq!(sdp.origin.username, "user1");
    assert_eq!(sdp.origin.session_id, 53_655_765);
    assert_eq!(sdp.origin.session_version, 2_353_687_637);
    assert_eq!(sdp.connection, Some(IpAddr::V4(Ipv4Addr::LOCALHOST)));
    assert_eq!(sdp.media.len(), 1);
    assert_eq!(sdp.media[0].port, 6000);
    assert_eq!(sdp.media[0].formats, ["0"]);
}

#[test]
fn sipp_offer_negotiates_pcmu_without_telephone_event() {
    let n = negotiated(SIPP_OFFER);
    assert_eq!(n.codec, AudioCodec::Pcmu);
    assert_eq!(n.codec_payload_type, 0);
    assert_eq!(n.telephone_event_pt, None);
    assert_eq!(
        n.remote_rtp,
        "127.0.0.1:6000".parse().expect("literal address")
    );
    assert_eq!(n.direction, Direction::SendRecv);
}

#[test]
fn baresip_offer_skips_opus_and_g722_and_picks_pcmu() {
    let n = negotiated(BARESIP_OFFER);
    assert_eq!(n.codec, AudioCodec::Pcmu);
    assert_eq!(n.telephone_event_pt, Some(101));
    assert_eq!(
        n.remote_rtp,
        "192.168.1.10:10362".parse().expect("literal address")
    );
}

#[test]
fn asterisk_offer_order_makes_pcma_win() {
    let n = negotiated(ASTERISK_OFFER);
    assert_eq!(n.codec, AudioCodec::Pcma);
    assert_eq!(n.codec_payload_type, 8);
    assert_eq!(n.telephone_event_pt, Some(101));
}

#[test]
fn our_supported_list_does_not_reorder_the_offer() {
    let n = negotiate(
        &parse(ASTERISK_OFFER),
        &[AudioCodec::Pcmu, AudioCodec::Pcma],
    );
    assert_eq!(n.map(|n| n.codec), Ok(AudioCodec::Pcma));
    let only_pcmu = negotiate(&parse(ASTERISK_OFFER), &[AudioCodec::Pcmu]);
    assert_eq!(only_pcmu.map(|n| n.codec), Ok(AudioCodec::Pcmu));
}

#[test]
fn offer_without_g711_has_no_common_codec() {
    let offer = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n\
        m=audio 4000 RTP/AVP 96 9 18\r\na=rtpmap:96 opus/48000/2\r\n\
        a=rtpmap:9 G722/8000\r\na=rtpmap:18 G729/8000\r\n";
    assert_eq!(
        negotiate(&parse(offer), &G711),
        Err(SdpError::NoCommonCodec)
    );
}

#[test]
fn dynamic_payload_type_named_pcmu_is_recognised() {
    let offer = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n\
        m=audio 4000 RTP/AVP 97 96\r\na=rtpmap:97 pcmu/8000\r\n\
        a=rtpmap:96 telephone-event/8000\r\na=fmtp:96 0-15\r\n";
    let n = negotiated(offer);
    assert_eq!(n.codec, AudioCodec::Pcmu);
    assert_eq!(n.codec_payload_type, 97);
    assert_eq!(n.telephone_event_pt, Some(96));
}

#[test]
fn rtpmap_overrides_static_meaning_of_a_payload_type() {
    // PT 0 remapped to something else is not PCMU (RFC 4566 §6 rtpmap).
    let offer = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n\
        m=audio 4000 RTP/AVP 0 8\r\na=rtpmap:0 L16/16000\r\n";
    assert_eq!(negotiated(offer).codec, AudioCodec::Pcma);
}

#[test]
fn telephone_event_at_another_rate_is_ignored() {
    let offer = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n\
        m=audio 4000 RTP/AVP 0 101 100\r\na=rtpmap:100 telephone-event/48000\r\n\
        a=rtpmap:101 telephone-event/8000\r\n";
    assert_eq!(negotiated(offer).telephone_event_pt, Some(101));
}

#[test]
fn hold_reoffer_with_sendonly_is_answered_recvonly() {
    let offer = ASTERISK_OFFER.replace("a=sendrecv", "a=sendonly");
    assert_eq!(negotiated(&offer).direction, Direction::RecvOnly);
}

#[test]
fn hold_reoffer_with_inactive_is_answered_inactive() {
    let offer = ASTERISK_OFFER.replace("a=sendrecv", "a=inactive");
    assert_eq!(negotiated(&offer).direction, Direction::Inactive);
}

#[test]
fn recvonly_offer_is_answered_sendonly() {
    let offer = ASTERISK_OFFER.replace("a=sendrecv", "a=recvonly");
    assert_eq!(negotiated(&offer).direction, Direction::SendOnly);
}

#[test]
fn session_level_direction_applies_when_media_has_none() {
    let offer = SIPP_OFFER.replace("t=0 0\n", "t=0 0\na=sendonly\n");
    assert_eq!(parse(&offer).direction, Some(Direction::SendOnly));
    assert_eq!(negotiated(&offer).direction, Direction::RecvOnly);
}

#[test]
fn media_level_direction_overrides_session_level() {
    let offer = SIPP_OFFER.replace("t=0 0\n", "t=0 0\na=inactive\n") + "a=sendrecv\n";
    assert_eq!(negotiated(&offer).direction, Direction::SendRecv);
}

#[test]
fn legacy_hold_with_zero_address_is_answered_recvonly() {
    let offer = SIPP_OFFER.replace("c=IN IP4 127.0.0.1", "c=IN IP4 0.0.0.0");
    let n = negotiated(&offer);
    assert_eq!(n.direction, Direction::RecvOnly);
    assert!(n.remote_rtp.ip().is_unspecified());
}

#[test]
fn legacy_hold_of_a_recvonly_stream_is_inactive() {
    let offer = SIPP_OFFER.replace("c=IN IP4 127.0.0.1", "c=IN IP4 0.0.0.0") + "a=recvonly\n";
    assert_eq!(negotiated(&offer).direction, Direction::Inactive);
}

#[test]
fn media_level_connection_overrides_session_level() {
    let offer = SIPP_OFFER.to_owned() + "c=IN IP4 10.1.2.3\n";
    assert_eq!(
        negotiated(&offer).remote_rtp,
        "10.1.2.3:6000".parse().expect("literal address")
    );
}

#[test]
fn ipv6_connection_is_parsed() {
    let offer = SIPP_OFFER
        .replace("c=IN IP4 127.0.0.1", "c=IN IP6 ::1")
        .replace("IN IP4 127.0.0.1", "IN IP6 ::1");
    assert_eq!(
        negotiated(&offer).remote_rtp.ip(),
        IpAddr::V6(Ipv6Addr::LOCALHOST)
    );
}

#[test]
fn audio_without_any_connection_address_is_an_error() {
    let offer = SIPP_OFFER.replace("c=IN IP4 127.0.0.1\n", "");
    assert_eq!(
        negotiate(&parse(&offer), &G711),
        Err(SdpError::NoConnectionAddress)
    );
}

#[test]
fn rejected_and_non_audio_streams_are_skipped() {
    let offer = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n\
        m=video 5000 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n\
        m=audio 0 RTP/AVP 0\r\n\
        m=audio 4002 RTP/SAVP 0\r\n\
        m=audio 4004 RTP/AVP 8\r\n";
    let n = negotiated(offer);
    assert_eq!(n.media_index, 3);
    assert_eq!(n.codec, AudioCodec::Pcma);
}

#[test]
fn offer_with_only_video_has_no_audio_stream() {
    let offer = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n\
        m=video 5000 RTP/AVP 96\r\n";
    assert_eq!(
        negotiate(&parse(offer), &G711),
        Err(SdpError::NoAudioStream)
    );
}

#[test]
fn answer_has_session_lines_codec_telephone_event_and_direction() {
    let offer = parse(BARESIP_OFFER);
    let n = negotiated(BARESIP_OFFER);
    let local = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));
    let answer = text(build_answer(&offer, 42, 7, local, 20_000, &n));
    assert_eq!(
        answer,
        "v=0\r\n\
         o=hotline 42 7 IN IP4 10.0.0.2\r\n\
         s=hotline\r\n\
         c=IN IP4 10.0.0.2\r\n\
         t=0 0\r\n\
         m=audio 20000 RTP/AVP 0 101\r\n\
         a=rtpmap:0 PCMU/8000\r\n\
         a=rtpmap:101 telephone-event/8000\r\n\
         a=fmtp:101 0-16\r\n\
         a=ptime:20\r\n\
         a=sendrecv\r\n"
    );
}

#[test]
fn answer_keeps_the_offers_dynamic_payload_types() {
    let offer_text = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n\
        m=audio 4000 RTP/AVP 97 96\r\na=rtpmap:97 PCMA/8000\r\n\
        a=rtpmap:96 telephone-event/8000\r\n";
    let n = negotiated(offer_text);
    let answer = text(build_answer(
        &parse(offer_text),
        1,
        1,
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        30_000,
        &n,
    ));
    assert!(
        answer.contains("m=audio 30000 RTP/AVP 97 96\r\n"),
        "{answer}"
    );
    assert!(answer.contains("a=rtpmap:97 PCMA/8000\r\n"), "{answer}");
    assert!(answer.contains("a=fmtp:96 0-16\r\n"), "{answer}");
}

#[test]
fn answer_without_telephone_event_lists_only_the_codec() {
    let n = negotiated(SIPP_OFFER);
    let answer = text(build_answer(
        &parse(SIPP_OFFER),
        1,
        1,
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        30_000,
        &n,
    ));
    assert!(answer.contains("m=audio 30000 RTP/AVP 0\r\n"), "{answer}");
    assert!(!answer.contains("telephone-event"), "{answer}");
}

#[test]
fn answer_rejects_other_streams_with_port_zero_in_their_position() {
    let offer_text = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n\
        m=video 5000 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n\
        m=audio 4000 RTP/AVP 0\r\n\
        m=application 5002 udp/BFCP *\r\n";
    let offer = parse(offer_text);
    let n = negotiated(offer_text);
    let answer = parse(&text(build_answer(
        &offer,
        1,
        1,
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        30_000,
        &n,
    )));
    let lines: Vec<(&str, u16, &str)> = answer
        .media
        .iter()
        .map(|m| (m.media.as_str(), m.port, m.protocol.as_str()))
        .collect();
    assert_eq!(
        lines,
        [
            ("video", 0, "RTP/AVP"),
            ("audio", 30_000, "RTP/AVP"),
            ("application", 0, "udp/BFCP")
        ]
    );
    assert_eq!(answer.media[0].formats, ["96"]);
    assert_eq!(answer.media[2].formats, ["*"]);
}

#[test]
fn answer_to_a_hold_carries_recvonly() {
    let offer_text = ASTERISK_OFFER.replace("a=sendrecv", "a=sendonly");
    let n = negotiated(&offer_text);
    let answer = text(build_answer(
        &parse(&offer_text),
        1,
        2,
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        30_000,
        &n,
    ));
    assert!(answer.ends_with("a=recvonly\r\n"), "{answer}");
}

#[test]
fn answer_over_ipv6_uses_ip6_address_type() {
    let n = negotiated(SIPP_OFFER);
    let answer = text(build_answer(
        &parse(SIPP_OFFER),
        1,
        1,
        IpAddr::V6(Ipv6Addr::LOCALHOST),
        30_000,
        &n,
    ));
    assert!(answer.contains("c=IN IP6 ::1\r\n"), "{answer}");
}

#[test]
fn offer_lists_pcmu_pcma_and_telephone_event_101() {
    let offer = text(build_offer(
        9,
        1,
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        40_000,
        Direction::SendRecv,
    ));
    assert!(
        offer.contains("m=audio 40000 RTP/AVP 0 8 101\r\n"),
        "{offer}"
    );
    assert!(
        offer.contains("a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"),
        "{offer}"
    );
    assert!(
        offer.contains("a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n"),
        "{offer}"
    );
    assert!(offer.ends_with("a=ptime:20\r\na=sendrecv\r\n"), "{offer}");
    assert!(offer.split("\r\n").all(|l| !l.contains('\n')));
}

#[test]
fn our_offer_parses_and_negotiates_with_ourselves() {
    let offer = build_offer(
        9,
        1,
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        40_000,
        Direction::SendOnly,
    );
    let n = negotiate(&parse(&text(offer)), &G711);
    assert_eq!(
        n.map(|n| (n.codec, n.direction)),
        Ok((AudioCodec::Pcmu, Direction::RecvOnly))
    );
}

#[test]
fn answer_in_ack_is_accepted() {
    // The SDP SIPp's uac_no_offer scenario puts in its ACK.
    let answer = "v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\n\
        c=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 8 101\r\n\
        a=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=recvonly\r\n";
    let n = accept_answer(&parse(answer));
    assert_eq!(
        n,
        Ok(Negotiated {
            media_index: 0,
            remote_rtp: "127.0.0.1:6000".parse().expect("literal address"),
            codec: AudioCodec::Pcma,
            codec_payload_type: 8,
            telephone_event_pt: Some(101),
            direction: Direction::SendOnly,
        })
    );
}

#[test]
fn answer_rejecting_our_audio_is_an_error() {
    let answer = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n\
        m=audio 0 RTP/AVP 0\r\n";
    assert_eq!(accept_answer(&parse(answer)), Err(SdpError::NoAudioStream));
}

#[test]
fn direction_answers_mirror_rfc_3264() {
    assert_eq!(Direction::SendRecv.answer_to(), Direction::SendRecv);
    assert_eq!(Direction::SendOnly.answer_to(), Direction::RecvOnly);
    assert_eq!(Direction::RecvOnly.answer_to(), Direction::SendOnly);
    assert_eq!(Direction::Inactive.answer_to(), Direction::Inactive);
}

#[test]
fn garbage_is_rejected_with_the_first_line() {
    let err = Sdp::parse(b"\x00\xff\xfegarbage\r\nmore");
    assert!(
        matches!(err, Err(SdpError::MissingVersion { line: 1, .. })),
        "{err:?}"
    );
}

#[test]
fn empty_body_is_rejected() {
    assert!(matches!(
        Sdp::parse(b""),
        Err(SdpError::MissingVersion { .. })
    ));
    assert!(matches!(
        Sdp::parse(b"\r\n\r\n"),
        Err(SdpError::MissingVersion { .. })
    ));
}

#[test]
fn line_without_equals_sign_is_named() {
    let err = Sdp::parse(b"v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\nhello world\r\n");
    assert_eq!(
        err,
        Err(SdpError::BadLine {
            line: 3,
            text: "hello world".to_owned(),
            reason: "expected `<type>=<value>`",
        })
    );
}

#[test]
fn bad_port_of_the_only_audio_stream_names_its_line() {
    let offer = SIPP_OFFER.replace("m=audio 6000", "m=audio 70000");
    let err = negotiate(&parse(&offer), &G711);
    assert!(
        matches!(err, Err(SdpError::BadLine { line: 6, .. })),
        "{err:?}"
    );
    assert!(err.is_err_and(|e| e.is_malformed()));
}

#[test]
fn bad_connection_names_its_line() {
    for bad in [
        "c=IN IP4 example.com",
        "c=IN IP4 ::1",
        "c=IN",
        "c=XX IP4 1.2.3.4",
    ] {
        let offer = SIPP_OFFER.replace("c=IN IP4 127.0.0.1", bad);
        let err = Sdp::parse(offer.as_bytes());
        assert!(
            matches!(err, Err(SdpError::BadLine { line: 4, .. })),
            "{bad}: {err:?}"
        );
    }
}

#[test]
fn multicast_connection_with_ttl_is_parsed() {
    let offer = SIPP_OFFER.replace("c=IN IP4 127.0.0.1", "c=IN IP4 224.2.1.1/127");
    assert_eq!(
        parse(&offer).connection,
        Some(IpAddr::V4(Ipv4Addr::new(224, 2, 1, 1)))
    );
}

#[test]
fn bad_rtpmap_names_its_line() {
    for bad in [
        "a=rtpmap:0",
        "a=rtpmap:200 PCMU/8000",
        "a=rtpmap:0 PCMU",
        "a=rtpmap:0 PCMU/fast",
    ] {
        let offer = SIPP_OFFER.replace("a=rtpmap:0 PCMU/8000", bad);
        // The section is unusable; with no other audio, the offer is
        // malformed at that line.
        let err = negotiate(&parse(&offer), &G711);
        assert!(
            matches!(err, Err(SdpError::BadLine { line: 7, .. })),
            "{bad}: {err:?}"
        );
    }
}

#[test]
fn missing_origin_is_an_error() {
    let offer = SIPP_OFFER.replace("o=user1 53655765 2353687637 IN IP4 127.0.0.1\n", "");
    assert_eq!(
        Sdp::parse(offer.as_bytes()),
        Err(SdpError::MissingLine { kind: 'o' })
    );
}

#[test]
fn error_text_is_truncated() {
    let long = format!("v=0\r\n{}\r\n", "x".repeat(500));
    match Sdp::parse(long.as_bytes()) {
        Err(SdpError::BadLine { text, .. }) => assert_eq!(text.len(), ERROR_LINE_MAX_CHARS),
        other => panic!("expected BadLine, got {other:?}"),
    }
}

#[test]
fn unknown_lines_and_attributes_are_ignored() {
    let offer = SIPP_OFFER.to_owned() + "a=rtcp:6001\na=x-custom\nb=AS:64\nk=prompt\n";
    assert_eq!(negotiated(&offer).codec, AudioCodec::Pcmu);
}

/// RFC 4475 §3.3.15's body: a video stream whose rtpmap has no clock rate.
const SDP01_OFFER: &str = "v=0\r\n\
    o=mhandley 29739 7272939 IN IP4 192.0.2.5\r\n\
    s=-\r\n\
    c=IN IP4 192.0.2.5\r\n\
    t=0 0\r\n\
    m=audio 49217 RTP/AVP 0 12\r\n\
    m=video 3227 RTP/AVP 31\r\n\
    a=rtpmap:31 LPC\r\n";

fn answer_lines(offer_text: &str) -> Vec<(String, u16, String, Vec<String>)> {
    let offer = parse(offer_text);
    let n = negotiated(offer_text);
    let answer = parse(&text(build_answer(
        &offer,
        1,
        1,
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        30_000,
        &n,
    )));
    answer
        .media
        .into_iter()
        .map(|m| (m.media, m.port, m.protocol, m.formats))
        .collect()
}

#[test]
fn a_stream_we_do_not_use_may_be_malformed_and_is_rejected_with_port_zero() {
    let n = negotiated(SDP01_OFFER);
    assert_eq!((n.media_index, n.codec), (0, AudioCodec::Pcmu));
    assert_eq!(n.remote_rtp, "192.0.2.5:49217".parse().expect("address"));
    let video = &parse(SDP01_OFFER).media[1];
    assert!(video.malformed.is_some(), "{video:?}");
    // RFC 3264 §6: as many m-lines as the offer, in its order; the video
    // stream rejected by port 0 with its format.
    assert_eq!(
        answer_lines(SDP01_OFFER),
        [
            ("audio".into(), 30_000, "RTP/AVP".into(), vec!["0".into()]),
            ("video".into(), 0, "RTP/AVP".into(), vec!["31".into()]),
        ]
    );
}

#[test]
fn any_malformed_line_of_an_unused_stream_leaves_the_audio_alone() {
    for bad in [
        "a=rtpmap:96 H264",
        "a=rtpmap:200 FOO/90000",
        "a=rtpmap:96 H264/90000/x",
        "a=fmtp:abc x",
        "a=ptime:33.3",
        "c=IN IP4 video.example.com",
    ] {
        let offer = format!("{SDP01_OFFER}{bad}\r\n").replace("a=rtpmap:31 LPC\r\n", "");
        assert_eq!(negotiated(&offer).media_index, 0, "{bad}");
        assert_eq!(answer_lines(&offer)[1].1, 0, "{bad}");
    }
    let offer = SDP01_OFFER.replace("m=video 3227", "m=video 99999");
    assert_eq!(answer_lines(&offer)[1].1, 0, "a port out of range");
}

#[test]
fn a_second_audio_stream_is_rejected_with_port_zero() {
    let offer = format!("{SIPP_OFFER}m=audio 6002 RTP/AVP 8\na=rtpmap:8 PCMA/8000\n");
    assert_eq!(negotiated(&offer).media_index, 0);
    assert_eq!(
        answer_lines(&offer),
        [
            ("audio".into(), 30_000, "RTP/AVP".into(), vec!["0".into()]),
            ("audio".into(), 0, "RTP/AVP".into(), vec!["8".into()]),
        ]
    );
}

#[test]
fn audio_over_another_profile_is_rejected_and_the_rtp_avp_stream_used() {
    let offer = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n\
        m=audio 4000 RTP/SAVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:xyz\r\n\
        m=audio 4002 RTP/AVP 0\r\n";
    assert_eq!(negotiated(offer).remote_rtp.port(), 4002);
    assert_eq!(
        answer_lines(offer),
        [
            ("audio".into(), 0, "RTP/SAVP".into(), vec!["0".into()]),
            ("audio".into(), 30_000, "RTP/AVP".into(), vec!["0".into()]),
        ]
    );
}

#[test]
fn a_malformed_audio_stream_is_skipped_for_a_good_one() {
    let offer = format!("{SIPP_OFFER}m=audio 6002 RTP/AVP 8\n")
        .replace("a=rtpmap:0 PCMU/8000", "a=rtpmap:0 PCMU");
    let n = negotiated(&offer);
    assert_eq!((n.media_index, n.codec), (1, AudioCodec::Pcma));
}
