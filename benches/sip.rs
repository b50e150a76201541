//! SIP hot paths: parsing a typical INVITE and building a 200 for it.
//! Run: `cargo bench --bench sip`.

use std::hint::black_box;
use std::net::SocketAddr;

use criterion::{Criterion, criterion_group, criterion_main};
use hotline::sip::{StatusCode, Transport, build_response, parse_request};

const INVITE: &str = "INVITE sip:4008@hotline.example SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds;rport\r\n\
Max-Forwards: 70\r\n\
To: <sip:4008@hotline.example>\r\n\
From: \"Zhang San\" <sip:13800138000@carrier.example>;tag=1928301774\r\n\
P-Asserted-Identity: <sip:+8613800138000@carrier.example>\r\n\
Call-ID: a84b4c76e66710@192.0.2.10\r\n\
CSeq: 314159 INVITE\r\n\
Contact: <sip:13800138000@192.0.2.10:5060>\r\n\
Allow: INVITE, ACK, BYE, CANCEL, OPTIONS\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 131\r\n\r\n\
v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n\
m=audio 40000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\n";

fn source() -> SocketAddr {
    SocketAddr::from(([192, 0, 2, 10], 5060))
}

fn parse_invite(c: &mut Criterion) {
    c.bench_function("sip_parse_invite", |b| {
        b.iter(|| parse_request(black_box(INVITE.as_bytes()), source(), Transport::Udp))
    });
}

fn build_ok(c: &mut Criterion) {
    let Ok(request) = parse_request(INVITE.as_bytes(), source(), Transport::Udp) else {
        panic!("the bench INVITE parses");
    };
    c.bench_function("sip_build_200", |b| {
        b.iter(|| {
            build_response(
                black_box(&request),
                StatusCode::OK,
                "a6c85cf",
                "hotline/0.1",
            )
        })
    });
}

criterion_group!(benches, parse_invite, build_ok);
criterion_main!(benches);
