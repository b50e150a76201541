use super::*;

const T1: Duration = Duration::from_millis(500);
const T2: Duration = Duration::from_secs(4);
const T4: Duration = Duration::from_secs(5);

fn timers() -> Timers {
    Timers {
        t1: T1,
        t2: T2,
        t4: T4,
    }
}

fn scheduled(actions: &[Action], timer: Timer) -> Option<Instant> {
    actions.iter().find_map(|a| match a {
        Action::Schedule(t, at) if *t == timer => Some(*at),
        _ => None,
    })
}

fn sends(actions: &[Action]) -> usize {
    actions
        .iter()
        .filter(|a| matches!(a, Action::Send(_)))
        .count()
}

#[test]
fn server_invite_resends_the_last_provisional_on_retransmission() {
    // RFC 3261 §17.2.1: in Proceeding, a retransmitted INVITE gets the most
    // recent provisional response again.
    let now = Instant::now();
    let mut tx = ServerInvite::new(false, timers());
    assert!(tx.on_retransmission().is_empty(), "nothing sent yet");
    tx.on_response(StatusCode::TRYING, b"100".to_vec(), now);
    tx.on_response(StatusCode::RINGING, b"180".to_vec(), now);
    assert_eq!(tx.on_retransmission(), vec![Action::Send(b"180".to_vec())]);
}

#[test]
fn server_invite_final_error_arms_g_and_h_and_g_doubles_to_t2() {
    // RFC 3261 §17.2.1: G starts at T1 and doubles up to T2; H = 64*T1.
    let now = Instant::now();
    let mut tx = ServerInvite::new(false, timers());
    let actions = tx.on_response(StatusCode::BUSY_HERE, b"486".to_vec(), now);
    assert_eq!(tx.state(), ServerInviteState::Completed);
    assert_eq!(scheduled(&actions, Timer::G), Some(now + T1));
    assert_eq!(scheduled(&actions, Timer::H), Some(now + 64 * T1));
    let mut at = now + T1;
    let mut expected = [T1 * 2, T1 * 4, T2, T2].into_iter();
    for _ in 0..4 {
        let actions = tx.on_timer(Timer::G, at);
        assert_eq!(sends(&actions), 1, "G retransmits the final response");
        let next = scheduled(&actions, Timer::G).expect("G re-armed");
        assert_eq!(next - at, expected.next().expect("interval"));
        at = next;
    }
}

#[test]
fn server_invite_over_tcp_arms_no_g_and_a_zero_timer_i() {
    // RFC 3261 §17.2.1: G only for unreliable transports; I = 0 for reliable.
    let now = Instant::now();
    let mut tx = ServerInvite::new(true, timers());
    let actions = tx.on_response(StatusCode::BUSY_HERE, b"486".to_vec(), now);
    assert_eq!(scheduled(&actions, Timer::G), None);
    let actions = tx.on_ack(now);
    assert_eq!(scheduled(&actions, Timer::I), Some(now));
}

#[test]
fn server_invite_timer_h_times_out_without_ack() {
    let now = Instant::now();
    let mut tx = ServerInvite::new(false, timers());
    tx.on_response(StatusCode::BUSY_HERE, b"486".to_vec(), now);
    let actions = tx.on_timer(Timer::H, now + 64 * T1);
    assert_eq!(actions, vec![Action::Timeout, Action::Terminated]);
}

#[test]
fn server_invite_ack_confirms_and_timer_i_terminates() {
    // RFC 3261 §17.2.1: ACK in Completed → Confirmed, I = T4 (unreliable);
    // retransmitted INVITEs and G are then absorbed.
    let now = Instant::now();
    let mut tx = ServerInvite::new(false, timers());
    tx.on_response(StatusCode::REQUEST_TERMINATED, b"487".to_vec(), now);
    let actions = tx.on_ack(now);
    assert_eq!(tx.state(), ServerInviteState::Confirmed);
    assert_eq!(scheduled(&actions, Timer::I), Some(now + T4));
    assert!(tx.on_retransmission().is_empty());
    assert!(tx.on_timer(Timer::G, now + T1).is_empty());
    assert_eq!(tx.on_timer(Timer::I, now + T4), vec![Action::Terminated]);
}

#[test]
fn server_invite_2xx_enters_accepted_which_absorbs_retransmissions_until_l() {
    // RFC 6026 §7.1/§8.2: 2xx → Accepted, timer L = 64*T1; INVITE
    // retransmissions are absorbed; further 2xx from the TU are sent.
    let now = Instant::now();
    let mut tx = ServerInvite::new(false, timers());
    let actions = tx.on_response(StatusCode::OK, b"200".to_vec(), now);
    assert_eq!(tx.state(), ServerInviteState::Accepted);
    assert_eq!(scheduled(&actions, Timer::L), Some(now + 64 * T1));
    assert!(tx.on_retransmission().is_empty());
    assert_eq!(
        tx.on_response(StatusCode::OK, b"200".to_vec(), now + T1),
        vec![Action::Send(b"200".to_vec())]
    );
    assert_eq!(
        tx.on_timer(Timer::L, now + 64 * T1),
        vec![Action::Terminated]
    );
}

#[test]
fn server_non_invite_absorbs_in_trying_and_resends_final_in_completed() {
    // RFC 3261 §17.2.2.
    let now = Instant::now();
    let mut tx = ServerNonInvite::new(false, timers());
    assert!(tx.on_retransmission().is_empty());
    let actions = tx.on_response(StatusCode::OK, b"200".to_vec(), now);
    assert_eq!(tx.state(), NonInviteState::Completed);
    assert_eq!(scheduled(&actions, Timer::J), Some(now + 64 * T1));
    assert_eq!(tx.on_retransmission(), vec![Action::Send(b"200".to_vec())]);
    assert!(
        tx.on_response(StatusCode::OK, b"again".to_vec(), now)
            .is_empty()
    );
    assert_eq!(
        tx.on_timer(Timer::J, now + 64 * T1),
        vec![Action::Terminated]
    );
}

#[test]
fn server_non_invite_over_tcp_has_a_zero_timer_j() {
    let now = Instant::now();
    let mut tx = ServerNonInvite::new(true, timers());
    let actions = tx.on_response(StatusCode::OK, b"200".to_vec(), now);
    assert_eq!(scheduled(&actions, Timer::J), Some(now));
}

#[test]
fn client_invite_timer_a_doubles_and_b_times_out() {
    // RFC 3261 §17.1.1.2: A starts at T1 and doubles; B = 64*T1.
    let now = Instant::now();
    let (mut tx, actions) = ClientInvite::start(b"INVITE".to_vec(), false, timers(), now);
    assert_eq!(sends(&actions), 1);
    assert_eq!(scheduled(&actions, Timer::A), Some(now + T1));
    assert_eq!(scheduled(&actions, Timer::B), Some(now + 64 * T1));
    let actions = tx.on_timer(Timer::A, now + T1);
    assert_eq!(sends(&actions), 1);
    assert_eq!(scheduled(&actions, Timer::A), Some(now + T1 + 2 * T1));
    let actions = tx.on_timer(Timer::B, now + 64 * T1);
    assert_eq!(actions, vec![Action::Timeout, Action::Terminated]);
    assert_eq!(tx.state(), ClientInviteState::Terminated);
}

#[test]
fn client_invite_over_tcp_arms_no_timer_a() {
    let now = Instant::now();
    let (_, actions) = ClientInvite::start(b"INVITE".to_vec(), true, timers(), now);
    assert_eq!(scheduled(&actions, Timer::A), None);
    assert!(scheduled(&actions, Timer::B).is_some());
}

#[test]
fn client_invite_acks_a_non_2xx_and_re_acks_its_retransmission() {
    // RFC 3261 §17.1.1.2/§17.1.1.3: ACK, Completed, D >= 32 s unreliable.
    let now = Instant::now();
    let (mut tx, _) = ClientInvite::start(b"INVITE".to_vec(), false, timers(), now);
    assert_eq!(
        tx.on_response(StatusCode::RINGING, Vec::new(), now),
        vec![Action::DeliverResponse(StatusCode::RINGING)]
    );
    assert!(
        tx.on_timer(Timer::A, now + T1).is_empty(),
        "A stops in Proceeding"
    );
    let actions = tx.on_response(StatusCode::BUSY_HERE, b"ACK".to_vec(), now);
    assert_eq!(actions[0], Action::Send(b"ACK".to_vec()));
    assert_eq!(
        scheduled(&actions, Timer::D),
        Some(now + Duration::from_secs(32))
    );
    assert_eq!(
        tx.on_response(StatusCode::BUSY_HERE, b"other".to_vec(), now),
        vec![Action::Send(b"ACK".to_vec())]
    );
    assert_eq!(
        tx.on_timer(Timer::D, now + TIMER_D_UNRELIABLE),
        vec![Action::Terminated]
    );
}

#[test]
fn client_invite_over_tcp_has_a_zero_timer_d() {
    let now = Instant::now();
    let (mut tx, _) = ClientInvite::start(b"INVITE".to_vec(), true, timers(), now);
    let actions = tx.on_response(StatusCode::DECLINE, b"ACK".to_vec(), now);
    assert_eq!(scheduled(&actions, Timer::D), Some(now));
}

#[test]
fn client_invite_2xx_is_accepted_and_later_2xx_are_delivered_until_m() {
    // RFC 6026 §7.2/§8.4.
    let now = Instant::now();
    let (mut tx, _) = ClientInvite::start(b"INVITE".to_vec(), false, timers(), now);
    let actions = tx.on_response(StatusCode::OK, Vec::new(), now);
    assert_eq!(tx.state(), ClientInviteState::Accepted);
    assert_eq!(scheduled(&actions, Timer::M), Some(now + 64 * T1));
    assert_eq!(
        tx.on_response(StatusCode::OK, Vec::new(), now),
        vec![Action::DeliverResponse(StatusCode::OK)]
    );
    assert_eq!(
        tx.on_timer(Timer::M, now + 64 * T1),
        vec![Action::Terminated]
    );
}

#[test]
fn client_non_invite_timer_e_doubles_to_t2_then_f_times_out() {
    // RFC 3261 §17.1.2.2: E = T1, doubling to T2 in Trying; F = 64*T1.
    let now = Instant::now();
    let (mut tx, actions) = ClientNonInvite::start(b"BYE".to_vec(), false, timers(), now);
    assert_eq!(scheduled(&actions, Timer::E), Some(now + T1));
    assert_eq!(scheduled(&actions, Timer::F), Some(now + 64 * T1));
    let mut at = now + T1;
    for expected in [T1 * 2, T1 * 4, T2, T2] {
        let actions = tx.on_timer(Timer::E, at);
        assert_eq!(sends(&actions), 1);
        let next = scheduled(&actions, Timer::E).expect("E re-armed");
        assert_eq!(next - at, expected);
        at = next;
    }
    assert_eq!(
        tx.on_timer(Timer::F, now + 64 * T1),
        vec![Action::Timeout, Action::Terminated]
    );
}

#[test]
fn client_non_invite_retransmits_every_t2_in_proceeding() {
    let now = Instant::now();
    let (mut tx, _) = ClientNonInvite::start(b"BYE".to_vec(), false, timers(), now);
    tx.on_response(StatusCode::TRYING, now);
    assert_eq!(tx.state(), NonInviteState::Proceeding);
    let actions = tx.on_timer(Timer::E, now + T1);
    assert_eq!(scheduled(&actions, Timer::E), Some(now + T1 + T2));
}

#[test]
fn client_non_invite_final_response_arms_k_t4_or_zero_over_tcp() {
    // RFC 3261 §17.1.2.2: K = T4 unreliable, zero reliable.
    let now = Instant::now();
    let (mut tx, _) = ClientNonInvite::start(b"BYE".to_vec(), false, timers(), now);
    let actions = tx.on_response(StatusCode::OK, now);
    assert_eq!(actions[0], Action::DeliverResponse(StatusCode::OK));
    assert_eq!(scheduled(&actions, Timer::K), Some(now + T4));
    assert!(
        tx.on_timer(Timer::E, now + T1).is_empty(),
        "no retransmission once Completed"
    );
    assert!(
        tx.on_response(StatusCode::OK, now).is_empty(),
        "retransmitted final absorbed"
    );
    assert_eq!(tx.on_timer(Timer::K, now + T4), vec![Action::Terminated]);

    let (mut tx, actions) = ClientNonInvite::start(b"BYE".to_vec(), true, timers(), now);
    assert_eq!(scheduled(&actions, Timer::E), None, "no E over TCP");
    let actions = tx.on_response(StatusCode::OK, now);
    assert_eq!(scheduled(&actions, Timer::K), Some(now));
}

fn options_from(source: &str, transport: Transport) -> Request {
    let text = "OPTIONS sip:4008@127.0.0.1 SIP/2.0\r\n\
                Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKsame\r\n\
                From: <sip:a@192.0.2.10>;tag=1\r\n\
                To: <sip:4008@127.0.0.1>\r\n\
                Call-ID: keys\r\n\
                CSeq: 1 OPTIONS\r\n\
                Content-Length: 0\r\n\r\n";
    let source = source.parse().expect("address");
    match crate::sip::message::parse(text.as_bytes(), source, transport) {
        Ok(crate::sip::message::Message::Request(request)) => *request,
        other => panic!("expected a request, got {other:?}"),
    }
}

#[test]
fn a_request_with_the_branch_of_one_that_came_another_way_is_another_server_transaction() {
    let udp = ServerKey::for_request(&options_from("192.0.2.10:5060", Transport::Udp));
    let again = ServerKey::for_request(&options_from("192.0.2.10:5060", Transport::Udp));
    assert_eq!(udp, again, "a retransmission matches");
    let tcp = ServerKey::for_request(&options_from("192.0.2.10:40123", Transport::Tcp));
    assert_ne!(udp, tcp, "RFC 3261 §18.2.2: its responses go another way");
    let elsewhere = ServerKey::for_request(&options_from("198.51.100.7:5060", Transport::Udp));
    assert_ne!(udp, elsewhere, "another host is another transaction");
    let new_connection = ServerKey::for_request(&options_from("192.0.2.10:40999", Transport::Tcp));
    assert_eq!(
        tcp, new_connection,
        "the source port of a TCP client is not part of the key"
    );
}

#[test]
fn client_keys_differ_by_transport() {
    let key = |transport| ClientKey {
        branch: "z9hG4bKours".to_owned(),
        method: "BYE".to_owned(),
        transport,
    };
    assert_ne!(key(Transport::Udp), key(Transport::Tcp));
    assert_eq!(key(Transport::Tcp), key(Transport::Tcp));
}
