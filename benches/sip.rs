//! SIP hot paths: parsing a typical INVITE and building a 200 for it;
//! verifying the digest credentials of a REGISTER.
//! Run: `cargo bench --bench sip`.

use std::hint::black_box;
use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

use criterion::{Criterion, criterion_group, criterion_main};
use hotline::sip::{
    Algorithm, ClientRequest, DigestConfig, DigestRequest, DigestServer, Ha1, StatusCode,
    Transport, Verification, authorization, build_response, parse_request,
};

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

const REALM: &str = "hotline.example";
const REGISTER_URI: &str = "sip:hotline.example";
/// Credentials made per untimed batch: making them (the client's hashing)
/// is kept out of the measured time.
const CREDENTIALS_BATCH: u64 = 1_000;

/// Credentials answering `challenges` with `algorithm`.
fn answer(challenges: &[String], algorithm: Algorithm, nc: u32) -> String {
    let offered = challenges
        .iter()
        .map(String::as_str)
        .filter(|c| c.contains(algorithm.token()));
    let request = ClientRequest {
        method: "REGISTER",
        uri: REGISTER_URI,
        cnonce: "6b8b4567327b23c6",
        nc,
    };
    match authorization(offered, "1001", "s3cret", request) {
        Ok(value) => value,
        Err(error) => panic!("our own challenge is answerable: {error}"),
    }
}

/// Time `iters` verifications, credentials made in untimed batches.
fn time_verifications(algorithm: Algorithm, fresh_nonce: bool, iters: u64) -> Duration {
    let config = DigestConfig {
        realm: REALM.to_owned(),
        ..DigestConfig::default()
    };
    let Ok(mut server) = DigestServer::new(config, b"bench secret") else {
        panic!("the bench config is valid");
    };
    let ha1 = Ha1::compute(algorithm, "1001", REALM, "s3cret");
    let request = DigestRequest {
        method: "REGISTER",
        uri: REGISTER_URI,
    };
    let mut reused: Option<Vec<String>> = None;
    let mut elapsed = Duration::ZERO;
    let mut done = 0;
    while done < iters {
        let batch = CREDENTIALS_BATCH.min(iters - done);
        // A new nonce per REGISTER (a phone challenged every time), or one
        // nonce with a rising nonce-count (a phone reusing its nonce).
        let values: Vec<String> = (done..done + batch)
            .map(|index| {
                if fresh_nonce {
                    answer(&server.challenge(SystemTime::now(), false), algorithm, 1)
                } else {
                    let challenges =
                        reused.get_or_insert_with(|| server.challenge(SystemTime::now(), false));
                    answer(challenges, algorithm, index as u32 + 1)
                }
            })
            .collect();
        let now = SystemTime::now();
        let start = Instant::now();
        for value in &values {
            let verdict = server.verify([value.as_str()], request, now, |_, _| Some(ha1));
            assert!(matches!(verdict, Verification::Ok { .. }), "{verdict:?}");
            black_box(verdict);
        }
        elapsed += start.elapsed();
        done += batch;
    }
    elapsed
}

fn verify_register_digest(c: &mut Criterion) {
    for (name, algorithm, fresh_nonce) in [
        (
            "sip_digest_verify_sha256_fresh_nonce",
            Algorithm::Sha256,
            true,
        ),
        ("sip_digest_verify_md5_fresh_nonce", Algorithm::Md5, true),
        ("sip_digest_verify_md5_reused_nonce", Algorithm::Md5, false),
    ] {
        c.bench_function(name, |b| {
            b.iter_custom(|iters| time_verifications(algorithm, fresh_nonce, iters))
        });
    }
}

criterion_group!(benches, parse_invite, build_ok, verify_register_digest);
criterion_main!(benches);
