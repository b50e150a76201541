use std::time::UNIX_EPOCH;

use super::*;

const PHONE: &str = "sip:1001@192.0.2.20:5060";
const CALL_ID: &str = "reg-call-1";

fn t0() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

fn at(seconds: u64) -> SystemTime {
    t0() + Duration::from_secs(seconds)
}

fn source() -> SocketAddr {
    "198.51.100.7:40312".parse().expect("test address")
}

fn registrar() -> Registrar {
    Registrar::new(RegistrarConfig {
        min_expires: Duration::from_secs(60),
        max_expires: Duration::from_secs(7200),
        default_expires: Duration::from_secs(3600),
        max_contacts: 3,
        keepalive: Duration::from_secs(30),
    })
    .expect("valid config")
}

/// A REGISTER as a phone sends it, parsed by the real parser.
fn request(headers: &str, call_id: &str, cseq: u32) -> Request {
    let text = format!(
        "REGISTER sip:hotline.example SIP/2.0\r\n\
         Via: SIP/2.0/UDP 192.0.2.20:5060;branch=z9hG4bKr{cseq};rport\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:1001@hotline.example>;tag=f{cseq}\r\n\
         To: \"Desk 1\" <sip:1001@Hotline.Example;user=phone>\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: {cseq} REGISTER\r\n\
         User-Agent: Yealink SIP-T46U 108.86\r\n\
         {headers}Content-Length: 0\r\n\r\n"
    );
    crate::sip::parse_request(text.as_bytes(), source(), Transport::Udp).expect("a valid REGISTER")
}

fn register(headers: &str, call_id: &str, cseq: u32) -> Register {
    Register::from_request(&request(headers, call_id, cseq)).expect("a readable REGISTER")
}

fn contact_headers(outcome: &RegisterOutcome) -> Vec<&str> {
    outcome
        .headers
        .iter()
        .filter(|(name, _)| name == "Contact")
        .map(|(_, value)| value.as_str())
        .collect()
}

/// One phone registered at t0 for an hour.
fn registered() -> Vec<Binding> {
    let request = register(&format!("Contact: <{PHONE}>\r\n"), CALL_ID, 1);
    registrar().register(&request, &[], t0()).bindings
}

#[test]
fn a_first_register_binds_the_contact_and_lists_it_with_its_expiry() {
    let request = register(
        &format!("Contact: <{PHONE}>;+sip.instance=\"<urn:uuid:0001>\"\r\nExpires: 1800\r\n"),
        CALL_ID,
        1,
    );
    assert_eq!(request.aor, "sip:1001@hotline.example");
    let outcome = registrar().register(&request, &[], t0());
    assert_eq!(outcome.status, StatusCode::OK);
    assert_eq!(
        contact_headers(&outcome),
        [format!("<{PHONE}>;expires=1800")]
    );
    assert!(outcome.headers.contains(&(
        "Date".to_owned(),
        "Tue, 14 Nov 2023 22:13:20 GMT".to_owned()
    )));
    let binding = &outcome.bindings[0];
    assert_eq!(outcome.added, outcome.bindings);
    assert_eq!(binding.contact, PHONE);
    assert_eq!(binding.expires_at, at(1800));
    assert_eq!(
        (binding.source, binding.transport),
        (source(), Transport::Udp)
    );
    assert_eq!((binding.call_id.as_str(), binding.cseq), (CALL_ID, 1));
    assert_eq!(
        binding.user_agent.as_deref(),
        Some("Yealink SIP-T46U 108.86")
    );
    assert_eq!(binding.instance.as_deref(), Some("<urn:uuid:0001>"));
}

#[test]
fn the_interval_comes_from_the_contact_then_expires_then_the_default() {
    let registrar = registrar();
    let cases = [
        (
            "Contact: <sip:a@192.0.2.1>;expires=120\r\nExpires: 600\r\n",
            120,
        ),
        ("Contact: <sip:a@192.0.2.1>\r\nExpires: 600\r\n", 600),
        ("Contact: <sip:a@192.0.2.1>\r\n", 3600),
        // RFC 3261 §20.19: malformed counts as 3600.
        ("Contact: <sip:a@192.0.2.1>\r\nExpires: soon\r\n", 3600),
        ("Contact: <sip:a@192.0.2.1>;expires=99999999999\r\n", 3600),
        // Shortened to the maximum (§10.3 step 7).
        ("Contact: <sip:a@192.0.2.1>;expires=86400\r\n", 7200),
    ];
    for (headers, seconds) in cases {
        let outcome = registrar.register(&register(headers, CALL_ID, 1), &[], t0());
        assert_eq!(outcome.bindings[0].expires_at, at(seconds), "{headers}");
    }
}

#[test]
fn a_too_brief_interval_gets_423_with_min_expires_and_changes_nothing() {
    let current = registered();
    let request = register(
        &format!("Contact: <{PHONE}>;expires=30, <sip:1001@192.0.2.21>\r\n"),
        CALL_ID,
        2,
    );
    let outcome = registrar().register(&request, &current, at(10));
    assert_eq!(outcome.status, StatusCode::INTERVAL_TOO_BRIEF);
    assert_eq!(outcome.status.reason_phrase(), "Interval Too Brief");
    assert_eq!(
        outcome.headers,
        [("Min-Expires".to_owned(), "60".to_owned())]
    );
    assert_eq!(outcome.bindings, current);
    assert!(outcome.added.is_empty() && outcome.refreshed.is_empty());
}

#[test]
fn expires_zero_in_the_header_or_the_contact_removes_the_binding() {
    let registrar = registrar();
    for headers in [
        format!("Contact: <{PHONE}>\r\nExpires: 0\r\n"),
        format!("Contact: <{PHONE}>;expires=0\r\nExpires: 3600\r\n"),
    ] {
        let outcome = registrar.register(&register(&headers, CALL_ID, 2), &registered(), at(5));
        assert_eq!(outcome.status, StatusCode::OK, "{headers}");
        assert!(outcome.bindings.is_empty());
        assert_eq!(outcome.removed, registered());
        assert!(contact_headers(&outcome).is_empty());
    }
}

#[test]
fn contact_star_with_expires_zero_removes_every_binding() {
    let registrar = registrar();
    let mut current = registered();
    let other = register("Contact: <sip:1001@192.0.2.99>\r\n", "desk-2", 7);
    current = registrar.register(&other, &current, at(1)).bindings;
    assert_eq!(current.len(), 2);
    let outcome = registrar.register(
        &register("Contact: *\r\nExpires: 0\r\n", "cleanup", 1),
        &current,
        at(2),
    );
    assert_eq!(outcome.status, StatusCode::OK);
    assert!(outcome.bindings.is_empty());
    assert_eq!(outcome.removed, current);
}

#[test]
fn contact_star_with_other_contacts_or_a_nonzero_expires_is_400() {
    let with_others = request(
        &format!("Contact: *, <{PHONE}>\r\nExpires: 0\r\n"),
        CALL_ID,
        2,
    );
    assert_eq!(
        Register::from_request(&with_others),
        Err(RegisterError::WildcardWithOthers)
    );
    let registrar = registrar();
    for headers in ["Contact: *\r\nExpires: 60\r\n", "Contact: *\r\n"] {
        let outcome = registrar.register(&register(headers, CALL_ID, 2), &registered(), at(1));
        assert_eq!(outcome.status, StatusCode::BAD_REQUEST, "{headers}");
        assert_eq!(outcome.bindings, registered());
    }
}

#[test]
fn the_same_call_id_with_a_cseq_not_higher_is_refused_500() {
    let registrar = registrar();
    let current = registered();
    for cseq in [1, 0] {
        for headers in [
            format!("Contact: <{PHONE}>;expires=600\r\n"),
            "Contact: *\r\nExpires: 0\r\n".to_owned(),
        ] {
            let outcome = registrar.register(&register(&headers, CALL_ID, cseq), &current, at(1));
            assert_eq!(outcome.status, StatusCode::SERVER_INTERNAL_ERROR);
            assert_eq!(outcome.bindings, current, "nothing applied");
        }
    }
    // A reordered refresh among several contacts aborts all of them.
    let both = register(
        &format!("Contact: <sip:1001@192.0.2.30>, <{PHONE}>\r\n"),
        CALL_ID,
        1,
    );
    let outcome = registrar.register(&both, &current, at(1));
    assert_eq!(outcome.status, StatusCode::SERVER_INTERNAL_ERROR);
    assert!(outcome.added.is_empty());
}

#[test]
fn a_refresh_keeps_one_binding_per_contact_uri() {
    let registrar = registrar();
    let current = registered();
    // Same URI by RFC 3261 §19.1.4: host case differs, an ignorable
    // parameter added; a new Call-ID after a reboot also refreshes.
    for (headers, call_id, cseq) in [
        ("Contact: <sip:1001@192.0.2.20:5060;ob>\r\n", CALL_ID, 2),
        ("Contact: <SIP:1001@192.0.2.20:5060>\r\n", "after-reboot", 1),
    ] {
        let outcome = registrar.register(&register(headers, call_id, cseq), &current, at(600));
        assert_eq!(outcome.bindings.len(), 1, "{headers}");
        assert_eq!(outcome.refreshed, outcome.bindings);
        assert!(outcome.added.is_empty() && outcome.removed.is_empty());
        assert_eq!(outcome.bindings[0].expires_at, at(600 + 3600));
        assert_eq!(outcome.bindings[0].call_id, call_id);
    }
    // Not the same binding: another port, or a transport given.
    for other in [
        "sip:1001@192.0.2.20",
        "sip:1001@192.0.2.20:5060;transport=tcp",
    ] {
        let request = register(&format!("Contact: <{other}>\r\n"), CALL_ID, 2);
        let outcome = registrar.register(&request, &current, at(600));
        assert_eq!(outcome.bindings.len(), 2, "{other}");
    }
    // A contact listed twice in one REGISTER is one update.
    let twice = register(
        &format!("Contact: <{PHONE}>;expires=100\r\nContact: <{PHONE}>;expires=200\r\n"),
        CALL_ID,
        2,
    );
    let outcome = registrar.register(&twice, &current, at(600));
    assert_eq!(outcome.status, StatusCode::OK);
    assert_eq!(outcome.bindings.len(), 1);
    assert_eq!(outcome.bindings[0].expires_at, at(800));
}

#[test]
fn several_contacts_per_aor_are_all_listed_up_to_the_limit() {
    let registrar = registrar();
    let mut current = Vec::new();
    for (index, phone) in ["192.0.2.20", "192.0.2.21", "192.0.2.22"]
        .iter()
        .enumerate()
    {
        let request = register(
            &format!(
                "Contact: <sip:1001@{phone}>;expires={}\r\n",
                600 * (index + 1)
            ),
            &format!("call-{index}"),
            1,
        );
        current = registrar.register(&request, &current, at(0)).bindings;
    }
    let query = registrar.register(&register("", "query", 1), &current, at(60));
    assert_eq!(query.status, StatusCode::OK);
    assert_eq!(
        contact_headers(&query),
        [
            "<sip:1001@192.0.2.20>;expires=540",
            "<sip:1001@192.0.2.21>;expires=1140",
            "<sip:1001@192.0.2.22>;expires=1740",
        ]
    );
    assert!(query.added.is_empty() && query.refreshed.is_empty() && query.removed.is_empty());
    let fourth = register("Contact: <sip:1001@192.0.2.23>\r\n", "call-4", 1);
    let outcome = registrar.register(&fourth, &current, at(60));
    assert_eq!(outcome.status, StatusCode::FORBIDDEN);
    assert_eq!(outcome.bindings, current);
}

#[test]
fn expired_bindings_are_dropped_and_reported() {
    let registrar = registrar();
    let current = registered();
    let later = at(3600);
    let outcome = registrar.register(&register("", "query", 1), &current, later);
    assert!(outcome.bindings.is_empty());
    assert_eq!(outcome.expired, current);
    assert!(outcome.removed.is_empty());
    // An expired binding with the same Call-ID no longer blocks a REGISTER.
    let again = register(&format!("Contact: <{PHONE}>\r\n"), CALL_ID, 1);
    let outcome = registrar.register(&again, &current, later);
    assert_eq!(outcome.status, StatusCode::OK);
    assert_eq!(outcome.added.len(), 1);
}

#[test]
fn contacts_are_read_in_every_form_phones_send() {
    let request = register(
        "Contact: \"Desk, 1\" <sip:1001@192.0.2.20;transport=udp>;q=0.7;expires=300\r\n\
         m: sip:1001@192.0.2.21;expires=600, <sips:1001@[2001:db8::1]:5061>\r\n",
        CALL_ID,
        1,
    );
    let Contacts::List(contacts) = &request.contacts else {
        panic!("a contact list, got {:?}", request.contacts);
    };
    let read: Vec<(&str, Option<u32>)> = contacts
        .iter()
        .map(|c| (c.uri.as_str(), c.expires))
        .collect();
    assert_eq!(
        read,
        [
            ("sip:1001@192.0.2.20;transport=udp", Some(300)),
            ("sip:1001@192.0.2.21", Some(600)),
            ("sips:1001@[2001:db8::1]:5061", None),
        ]
    );
    for bad in [
        "Contact: <sip:1001@192.0.2.20\r\n",
        "Contact: <mailto:a@b>\r\n",
    ] {
        assert_eq!(
            Register::from_request(&request_with(bad)),
            Err(RegisterError::BadContact),
            "{bad}"
        );
    }
}

fn request_with(headers: &str) -> Request {
    request(headers, CALL_ID, 1)
}

#[test]
fn the_config_is_read_from_toml_and_checked() {
    let config: RegistrarConfig =
        toml::from_str("min_expires = \"30s\"\nmax_expires = \"2h\"\n").expect("valid");
    assert_eq!(config.min_expires, Duration::from_secs(30));
    assert_eq!(config.max_expires, Duration::from_secs(7200));
    assert_eq!(config.validate(), Ok(()));
    assert!(toml::from_str::<RegistrarConfig>("min = \"1s\"\n").is_err());
    let too_long_minimum = RegistrarConfig {
        min_expires: Duration::from_secs(7200),
        max_expires: Duration::from_secs(7200),
        default_expires: Duration::from_secs(7200),
        ..RegistrarConfig::default()
    };
    assert_eq!(
        too_long_minimum.validate(),
        Err(RegistrarConfigError::MinExpires)
    );
    let default_above_max = RegistrarConfig {
        default_expires: Duration::from_secs(7200),
        ..RegistrarConfig::default()
    };
    assert!(Registrar::new(default_above_max).is_err());
}
