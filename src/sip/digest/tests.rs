use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::*;
use crate::sip::Transport;

const REALM: &str = "hotline.example";
const USER: &str = "1001";
const PASSWORD: &str = "s3cret";
const URI: &str = "sip:hotline.example";
const METHOD: &str = "REGISTER";

fn t0() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

fn config() -> DigestConfig {
    DigestConfig {
        realm: REALM.to_owned(),
        ..DigestConfig::default()
    }
}

fn server_with(config: DigestConfig, secret: &[u8]) -> DigestServer {
    DigestServer::new(config, secret).expect("a valid config")
}

fn server() -> DigestServer {
    server_with(config(), b"a test secret")
}

fn store(user: &str, algorithm: Algorithm) -> Option<Ha1> {
    (user == USER).then(|| Ha1::compute(algorithm, USER, REALM, PASSWORD))
}

fn answer_with(challenges: &[String], password: &str, nc: u32) -> String {
    authorization(
        challenges.iter().map(String::as_str),
        USER,
        password,
        ClientRequest {
            method: METHOD,
            uri: URI,
            cnonce: "0a4f113b",
            nc,
        },
    )
    .expect("our challenge can be answered")
}

fn answer(challenges: &[String], nc: u32) -> String {
    answer_with(challenges, PASSWORD, nc)
}

fn verify(server: &mut DigestServer, credentials: &str, now: SystemTime) -> Verification {
    server.verify(
        [credentials],
        DigestRequest {
            method: METHOD,
            uri: URI,
        },
        now,
        store,
    )
}

fn ok() -> Verification {
    Verification::Ok {
        username: USER.to_owned(),
    }
}

fn failed(reason: Failure) -> Verification {
    Verification::Failed { reason }
}

/// The challenges of RFC 7616 §3.9.1, one header value each.
const RFC_7616_CHALLENGES: [&str; 2] = [
    "Digest realm=\"http-auth@example.org\", qop=\"auth, auth-int\", algorithm=SHA-256, \
     nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", \
     opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"",
    "Digest realm=\"http-auth@example.org\", qop=\"auth, auth-int\", algorithm=MD5, \
     nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", \
     opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"",
];

fn rfc_7616_answer(challenges: &[&str]) -> String {
    authorization(
        challenges.iter().copied(),
        "Mufasa",
        "Circle of Life",
        ClientRequest {
            method: "GET",
            uri: "/dir/index.html",
            cnonce: "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
            nc: 1,
        },
    )
    .expect("the RFC's challenge can be answered")
}

#[test]
fn rfc_2617_example_gives_its_ha1_and_response() {
    let ha1 = Ha1::md5("Mufasa", "testrealm@host.com", "Circle Of Life");
    assert_eq!(ha1.as_hex(), "939e7578ed9e3c518a452acee763bce9");
    let challenge = "Digest realm=\"testrealm@host.com\", qop=\"auth,auth-int\", \
                     nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", \
                     opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"";
    let credentials = authorization(
        [challenge],
        "Mufasa",
        "Circle Of Life",
        ClientRequest {
            method: "GET",
            uri: "/dir/index.html",
            cnonce: "0a4f113b",
            nc: 1,
        },
    )
    .expect("answerable");
    assert!(
        credentials.contains("response=\"6629fae49393a05397450978507c4ef1\""),
        "{credentials}"
    );
    assert!(
        credentials.contains("qop=auth, nc=00000001"),
        "{credentials}"
    );
    assert!(credentials.contains("opaque=\"5ccc069c403ebaf9f0171e9517f40e41\""));
}

#[test]
fn rfc_7616_example_prefers_sha_256_and_gives_both_responses() {
    let sha = rfc_7616_answer(&RFC_7616_CHALLENGES);
    assert!(sha.contains("algorithm=SHA-256"), "{sha}");
    assert!(
        sha.contains(
            "response=\"753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1\""
        ),
        "{sha}"
    );
    // The MD5 challenge alone, and both in the other order.
    for challenges in [
        &RFC_7616_CHALLENGES[1..],
        &[RFC_7616_CHALLENGES[1], RFC_7616_CHALLENGES[0]][..],
    ] {
        let answer = rfc_7616_answer(challenges);
        let expected = if challenges.len() == 1 {
            "response=\"8ca523f5e9506fed4657c9700eebdbec\""
        } else {
            "algorithm=SHA-256"
        };
        assert!(answer.contains(expected), "{answer}");
    }
}

#[test]
fn a_challenge_without_qop_is_answered_the_rfc_2069_way() {
    let challenge = "Digest realm=\"carrier\", nonce=\"abc\"";
    let credentials = authorization(
        [challenge],
        "trunk",
        "pw",
        ClientRequest {
            method: "INVITE",
            uri: "sip:4008@carrier",
            cnonce: "unused",
            nc: 1,
        },
    )
    .expect("answerable");
    let ha1 = Ha1::md5("trunk", "carrier", "pw");
    let ha2 = Algorithm::Md5.hash(&[b"INVITE", b"sip:4008@carrier"]);
    let expected = Algorithm::Md5.hash(&[ha1.as_hex().as_bytes(), b"abc", ha2.as_bytes()]);
    assert!(credentials.contains(expected.as_str()), "{credentials}");
    assert!(!credentials.contains("qop") && !credentials.contains("cnonce"));
}

#[test]
fn challenges_we_cannot_answer_are_refused() {
    let request = ClientRequest {
        method: METHOD,
        uri: URI,
        cnonce: "c",
        nc: 1,
    };
    for challenge in [
        "Basic realm=\"x\"",
        "Digest realm=\"x\", nonce=\"n\", qop=\"auth-int\"",
        "Digest realm=\"x\", nonce=\"n\", algorithm=SHA-512-256",
        "Digest nonce=\"n\"",
    ] {
        assert_eq!(
            authorization([challenge], USER, PASSWORD, request),
            Err(DigestError::NoUsableChallenge),
            "{challenge}"
        );
    }
}

#[test]
fn challenges_come_sha_256_first_then_md5_with_qop_and_opaque() {
    let mut server = server();
    let challenges = server.challenge(t0(), false);
    assert_eq!(challenges.len(), 2);
    assert!(challenges[0].starts_with("Digest realm=\"hotline.example\", nonce=\""));
    assert!(challenges[0].contains("algorithm=SHA-256"));
    assert!(challenges[1].contains("algorithm=MD5"));
    for challenge in &challenges {
        assert!(challenge.contains("qop=\"auth\"") && challenge.contains("opaque=\""));
        assert!(!challenge.contains("stale"));
    }
    let stale = server.challenge(t0(), true);
    assert!(stale.iter().all(|c| c.ends_with(", stale=true")));
    assert_ne!(challenges[0], stale[0], "every challenge has a new nonce");
}

#[test]
fn a_round_trip_with_either_algorithm_authenticates() {
    let mut server = server();
    let challenges = server.challenge(t0(), false);
    let sha = answer(&challenges, 1);
    assert!(sha.contains("algorithm=SHA-256"));
    assert_eq!(verify(&mut server, &sha, t0()), ok());
    let md5 = answer(&challenges[1..], 1);
    assert!(md5.contains("algorithm=MD5"));
    let fresh = server.challenge(t0(), false);
    let md5_fresh = answer(&fresh[1..], 1);
    assert_eq!(verify(&mut server, &md5_fresh, t0()), ok());
    assert_eq!(
        ChallengeKind::Unauthorized.credentials_header(),
        "Authorization"
    );
    assert_eq!(
        ChallengeKind::ProxyAuthenticationRequired.challenge_header(),
        "Proxy-Authenticate"
    );
}

#[test]
fn an_expired_nonce_with_the_right_password_is_stale() {
    let mut server = server();
    let challenges = server.challenge(t0(), false);
    let credentials = answer(&challenges, 1);
    let later = t0() + DEFAULT_NONCE_LIFETIME + Duration::from_secs(1);
    assert_eq!(
        verify(&mut server, &credentials, later),
        Verification::Stale
    );
    let wrong = answer_with(&challenges, "guess", 1);
    assert_eq!(
        verify(&mut server, &wrong, later),
        failed(Failure::WrongPassword)
    );
    let just_in_time = t0() + DEFAULT_NONCE_LIFETIME - Duration::from_secs(1);
    assert_eq!(verify(&mut server, &credentials, just_in_time), ok());
}

#[test]
fn a_nonce_from_another_secret_is_stale_and_a_sibling_with_ours_accepts_it() {
    let mut other = server_with(config(), b"the secret before a restart");
    let credentials = answer(&other.challenge(t0(), false), 1);
    let mut server = server();
    assert_eq!(verify(&mut server, &credentials, t0()), Verification::Stale);
    let mut sibling = server_with(config(), b"a test secret");
    let credentials = answer(&server.challenge(t0(), false), 1);
    assert_eq!(verify(&mut sibling, &credentials, t0()), ok());
    assert_eq!(verify(&mut other, &credentials, t0()), Verification::Stale);
}

#[test]
fn a_nonce_count_not_above_the_last_is_a_replay() {
    let mut server = server();
    let challenges = server.challenge(t0(), false);
    let first = answer(&challenges, 1);
    assert_eq!(verify(&mut server, &first, t0()), ok());
    assert_eq!(verify(&mut server, &first, t0()), failed(Failure::Replayed));
    assert_eq!(verify(&mut server, &answer(&challenges, 3), t0()), ok());
    assert_eq!(
        verify(&mut server, &answer(&challenges, 2), t0()),
        failed(Failure::Replayed)
    );
    assert!(!Failure::Replayed.counts_against_source());
}

#[test]
fn a_wrong_response_does_not_advance_the_nonce_count() {
    let mut server = server();
    let challenges = server.challenge(t0(), false);
    let forged = answer_with(&challenges, "guess", u32::MAX);
    assert_eq!(
        verify(&mut server, &forged, t0()),
        failed(Failure::WrongPassword)
    );
    assert!(Failure::WrongPassword.counts_against_source());
    assert_eq!(verify(&mut server, &answer(&challenges, 1), t0()), ok());
}

#[test]
fn wrong_realm_user_uri_qop_and_algorithm_are_refused() {
    let mut server = server_with(
        DigestConfig {
            algorithms: vec![Algorithm::Sha256],
            ..config()
        },
        b"k",
    );
    let challenges = server.challenge(t0(), false);
    let good = answer(&challenges, 1);
    let cases = [
        (good.replace(REALM, "elsewhere"), Failure::OtherRealm),
        (good.replace("\"1001\"", "\"1002\""), Failure::UnknownUser),
        (good.replace(URI, "sip:other.example"), Failure::UriMismatch),
        (good.replace("qop=auth, ", ""), Failure::UnsupportedQop),
        (
            good.replace("SHA-256", "MD5"),
            Failure::UnsupportedAlgorithm,
        ),
        (
            good.replace("SHA-256", "SHA-512"),
            Failure::UnsupportedAlgorithm,
        ),
        (
            good.replace("nc=00000001", "nc=1"),
            Failure::Malformed { detail: "bad nc" },
        ),
    ];
    for (credentials, reason) in cases {
        assert_eq!(
            verify(&mut server, &credentials, t0()),
            failed(reason),
            "{credentials}"
        );
    }
    assert_eq!(verify(&mut server, &good, t0()), ok());
}

#[test]
fn no_credentials_is_missing_and_other_schemes_or_junk_fail() {
    let mut server = server();
    let request = DigestRequest {
        method: METHOD,
        uri: URI,
    };
    assert_eq!(
        server.verify([], request, t0(), store),
        Verification::Missing
    );
    assert!(matches!(
        verify(&mut server, "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==", t0()),
        Verification::Failed {
            reason: Failure::Malformed { .. }
        }
    ));
    assert!(matches!(
        verify(&mut server, "Digest realm=\"hotline.example\", nonce", t0()),
        Verification::Failed {
            reason: Failure::Malformed { .. }
        }
    ));
}

#[test]
fn credentials_for_our_realm_are_found_among_others() {
    let mut server = server();
    let challenges = server.challenge(t0(), false);
    let ours = answer(&challenges, 1);
    let theirs = ours.replace(REALM, "proxy.example");
    let request = DigestRequest {
        method: METHOD,
        uri: URI,
    };
    let verdict = server.verify([theirs.as_str(), ours.as_str()], request, t0(), store);
    assert_eq!(verdict, ok());
    let verdict = server.verify(["junk", theirs.as_str()], request, t0(), store);
    assert_eq!(verdict, failed(Failure::OtherRealm));
}

#[test]
fn an_upper_case_response_and_a_case_changed_uri_are_accepted() {
    let mut server = server();
    let challenges = server.challenge(t0(), false);
    let credentials = answer(&challenges, 1);
    let start = credentials.find("response=\"").expect("response") + 10;
    let upper = format!(
        "{}{}{}",
        &credentials[..start],
        credentials[start..start + 64].to_ascii_uppercase(),
        &credentials[start + 64..]
    );
    let request = DigestRequest {
        method: METHOD,
        uri: "SIP:Hotline.Example",
    };
    assert_eq!(server.verify([upper.as_str()], request, t0(), store), ok());
}

#[test]
fn the_nonce_count_record_stays_bounded_and_forgets_safely() {
    let mut server = server_with(
        DigestConfig {
            max_tracked_nonces: 4,
            ..config()
        },
        b"k",
    );
    let first = server.challenge(t0(), false);
    assert_eq!(verify(&mut server, &answer(&first, 1), t0()), ok());
    for second in 1..=10 {
        let now = t0() + Duration::from_secs(second);
        let challenges = server.challenge(now, false);
        assert_eq!(verify(&mut server, &answer(&challenges, 1), now), ok());
        assert!(server.tracked_nonces() <= 4);
    }
    // The first nonce was dropped from the record: its next use is not
    // trusted blindly, the phone is challenged again.
    let now = t0() + Duration::from_secs(11);
    assert_eq!(
        verify(&mut server, &answer(&first, 2), now),
        Verification::Stale
    );
    // Expired nonces make room before live ones are dropped.
    let much_later = t0() + DEFAULT_NONCE_LIFETIME * 3;
    let challenges = server.challenge(much_later, false);
    assert_eq!(
        verify(&mut server, &answer(&challenges, 1), much_later),
        ok()
    );
    assert_eq!(server.tracked_nonces(), 1);
}

#[test]
fn stored_ha1_is_read_back_in_any_case_and_never_printed() {
    let ha1 = Ha1::sha256(USER, REALM, PASSWORD);
    let upper = ha1.as_hex().to_ascii_uppercase();
    assert_eq!(Ha1::from_hex(Algorithm::Sha256, &upper), Some(ha1));
    assert_eq!(Ha1::from_hex(Algorithm::Md5, ha1.as_hex()), None);
    assert_eq!(Ha1::from_hex(Algorithm::Md5, &"g".repeat(32)), None);
    assert!(!format!("{ha1:?}").contains(ha1.as_hex()));
    let server = format!("{:?}", server());
    assert!(server.contains(REALM) && !server.contains("a test secret"));
    assert_eq!(Algorithm::parse("sha-256"), Some(Algorithm::Sha256));
}

#[test]
fn a_parsed_register_is_verified_from_its_authorization_header() {
    let mut server = server();
    let challenges = server.challenge(t0(), false);
    let credentials = answer(&challenges, 1);
    let register = format!(
        "REGISTER {URI} SIP/2.0\r\n\
         Via: SIP/2.0/UDP 192.0.2.20:5060;branch=z9hG4bKreg1\r\n\
         From: <sip:1001@hotline.example>;tag=a\r\n\
         To: <sip:1001@hotline.example>\r\n\
         Call-ID: reg-1\r\nCSeq: 2 REGISTER\r\n\
         Authorization: {credentials}\r\n\
         Content-Length: 0\r\n\r\n"
    );
    let source: SocketAddr = "192.0.2.20:5060".parse().expect("address");
    let request =
        crate::sip::parse_request(register.as_bytes(), source, Transport::Udp).expect("parses");
    let verdict = server.verify_request(&request, ChallengeKind::Unauthorized, t0(), store);
    assert_eq!(verdict, ok());
    let verdict = server.verify_request(
        &request,
        ChallengeKind::ProxyAuthenticationRequired,
        t0(),
        store,
    );
    assert_eq!(verdict, Verification::Missing);
}

/// Random bytes, and valid credentials with bytes flipped, cut or
/// repeated: parsing and verifying must answer, never panic.
#[test]
fn junk_and_mutated_headers_never_panic() {
    const ROUNDS: usize = 3_000;
    const ALPHABET: &[u8] = b"\"\\,= \t;:abcDigest\x00\xff\xc3\xa9";
    let mut rng = StdRng::seed_from_u64(7616);
    let mut server = server();
    let challenges = server.challenge(t0(), false);
    let good = answer(&challenges, 1).into_bytes();
    for round in 0..ROUNDS {
        let mut bytes = if round % 4 == 0 {
            (0..rng.gen_range(0..80))
                .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())])
                .collect()
        } else {
            good.clone()
        };
        for _ in 0..rng.gen_range(1..6) {
            if bytes.is_empty() {
                break;
            }
            let at = rng.gen_range(0..bytes.len());
            match rng.gen_range(0..3) {
                0 => bytes[at] = ALPHABET[rng.gen_range(0..ALPHABET.len())],
                1 => bytes.truncate(at),
                _ => {
                    let piece = bytes[at..].to_vec();
                    bytes.extend_from_slice(&piece[..piece.len().min(16)]);
                }
            }
        }
        let text = String::from_utf8_lossy(&bytes);
        let _ = verify(&mut server, &text, t0());
        let _ = authorization(
            [text.as_ref()],
            USER,
            PASSWORD,
            ClientRequest {
                method: METHOD,
                uri: URI,
                cnonce: "c",
                nc: 1,
            },
        );
    }
}

#[test]
fn a_config_that_cannot_work_is_refused_and_toml_is_read() {
    for (config, error) in [
        (
            DigestConfig {
                algorithms: Vec::new(),
                ..config()
            },
            DigestConfigError::NoAlgorithm,
        ),
        (
            DigestConfig {
                realm: String::new(),
                ..config()
            },
            DigestConfigError::EmptyRealm,
        ),
        (
            DigestConfig {
                nonce_lifetime: Duration::from_millis(500),
                ..config()
            },
            DigestConfigError::NonceLifetime,
        ),
    ] {
        assert_eq!(DigestServer::new(config, b"k").err(), Some(error));
    }
    let config: DigestConfig = toml::from_str(
        "realm = \"pbx.example\"\nnonce_lifetime = \"2m\"\nalgorithms = [\"MD5\"]\n",
    )
    .expect("valid TOML");
    assert_eq!(config.nonce_lifetime, Duration::from_secs(120));
    assert_eq!(config.algorithms, [Algorithm::Md5]);
    assert!(toml::from_str::<DigestConfig>("algorithms = [\"SHA-1\"]\n").is_err());
    let mut server = server_with(config, b"k");
    assert_eq!(server.challenge(t0(), false).len(), 1);
}

#[test]
fn a_challenge_can_offer_md5_alone_for_a_phone_that_fails_on_sha256() {
    let mut server = DigestServer::with_random_secret(DigestConfig::default()).expect("server");
    let now = std::time::SystemTime::now();
    let both = server.challenge(now, false);
    assert_eq!(both.len(), 2);
    assert!(both[0].contains("algorithm=SHA-256"), "{both:?}");
    let md5 = server.challenge_with(now, false, &[Algorithm::Md5]);
    assert_eq!(md5.len(), 1);
    assert!(md5[0].contains("algorithm=MD5") && md5[0].contains("qop=\"auth\""));
    let config = crate::sip::SipConfig::default();
    assert!(config.md5_only(Some("baresip v1.0.0 (x86_64/linux)")));
    assert!(!config.md5_only(Some("Yealink SIP-T46S 66.86.0.15")));
    assert!(!config.md5_only(None));
}
