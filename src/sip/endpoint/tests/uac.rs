//! Calls and requests we originate, against a raw socket playing the phone.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::time::timeout;

use super::super::super::{ClientDialog, DialogEvent, SipError, StatusCode, Transport};
use super::super::{Endpoint, InviteClient, InviteResponse, Party, Target};
use super::{WAIT, endpoint, header, peer, recv, send, status_line};

/// Our offer in the INVITE.
const OFFER: &[u8] = b"v=0\r\no=hotline 1 1 IN IP4 127.0.0.1\r\ns=-\r\n";
/// The phone's answer in its 2xx.
const ANSWER: &str = "v=0\r\no=phone 2 2 IN IP4 127.0.0.1\r\ns=-\r\n";
/// The phone's To tag.
const PHONE_TAG: &str = "phone-tag";

fn target(phone: SocketAddr) -> Target {
    Target {
        addr: phone,
        transport: Transport::Udp,
        uri: format!("sip:8001@{phone}"),
    }
}

fn parties() -> (Party, Party) {
    (
        Party::new("sip:4008@hotline.example").with_display_name("热线"),
        Party::new("sip:8001@127.0.0.1"),
    )
}

fn call(endpoint: &Endpoint, phone: SocketAddr) -> InviteClient {
    let headers = vec![("X-Queue".to_owned(), "repair".to_owned())];
    endpoint
        .invite(target(phone), parties(), headers, OFFER.to_vec())
        .expect("a valid INVITE")
}

/// The phone's response to `request`: its Via, From, Call-ID and CSeq,
/// its To with our tag added unless it is a 100, `extra` lines and a body.
fn response_to(request: &str, status: &str, extra: &str, body: &str) -> String {
    let to = header(request, "To").expect("To");
    let to = if status.starts_with("100") || to.contains(";tag=") {
        to.to_owned()
    } else {
        format!("{to};tag={PHONE_TAG}")
    };
    let content_type = if body.is_empty() {
        String::new()
    } else {
        "Content-Type: application/sdp\r\n".to_owned()
    };
    format!(
        "SIP/2.0 {status}\r\nVia: {}\r\nFrom: {}\r\nTo: {to}\r\nCall-ID: {}\r\nCSeq: {}\r\n\
         {extra}{content_type}Content-Length: {}\r\n\r\n{body}",
        header(request, "Via").expect("Via"),
        header(request, "From").expect("From"),
        header(request, "Call-ID").expect("Call-ID"),
        header(request, "CSeq").expect("CSeq"),
        body.len()
    )
}

/// The next message the phone receives that starts with `start`; others
/// (retransmissions) are skipped.
async fn recv_starting(phone: &UdpSocket, start: &str) -> String {
    loop {
        let message = recv(phone).await;
        if message.starts_with(start) {
            return message;
        }
    }
}

async fn next(client: &mut InviteClient) -> Result<InviteResponse, SipError> {
    timeout(WAIT, client.next_response())
        .await
        .expect("a response in time")
        .expect("a response before the end")
}

fn branch(message: &str) -> String {
    let via = header(message, "Via").expect("Via");
    via.split("branch=")
        .nth(1)
        .and_then(|rest| rest.split(';').next())
        .expect("branch")
        .to_owned()
}

/// INVITE, 180, 200 (with Contact and Record-Route), ACK: a call up.
async fn answered_call(endpoint: &Endpoint, phone: &UdpSocket) -> (ClientDialog, String, String) {
    let me = phone.local_addr().expect("addr");
    let mut client = call(endpoint, me);
    let invite = recv_starting(phone, "INVITE ").await;
    send(
        phone,
        endpoint.local_addr(),
        &response_to(&invite, "180 Ringing", "", ""),
    )
    .await;
    assert!(matches!(
        next(&mut client).await,
        Ok(InviteResponse::Provisional {
            status: StatusCode::RINGING,
            ..
        })
    ));
    // Two proxies on the phone's own address, so the phone gets what
    // goes to the first hop.
    let extra = format!(
        "Contact: <sip:8001@{me};transport=udp>\r\n\
         Record-Route: <sip:{me};lr;hop=1>, <sip:{me};lr;hop=2>\r\n"
    );
    let ok = response_to(&invite, "200 OK", &extra, ANSWER);
    send(phone, endpoint.local_addr(), &ok).await;
    let Ok(InviteResponse::Answered(dialog)) = next(&mut client).await else {
        panic!("expected the call answered");
    };
    assert_eq!(next_is_none(&mut client).await, ());
    (dialog, invite, ok)
}

async fn next_is_none(client: &mut InviteClient) {
    assert!(
        client.next_response().await.is_none(),
        "nothing after the final response"
    );
}

#[tokio::test(start_paused = true)]
async fn a_call_we_place_is_answered_and_the_2xx_acknowledged_in_a_request_of_its_own() {
    let (endpoint, _incoming) = endpoint().await;
    let phone = peer().await;
    let me = phone.local_addr().expect("addr");
    let (dialog, invite, ok) = answered_call(&endpoint, &phone).await;
    assert!(
        invite.starts_with(&format!("INVITE sip:8001@{me} SIP/2.0\r\n")),
        "{invite}"
    );
    assert!(
        header(&invite, "From")
            .expect("From")
            .starts_with("\"热线\" <sip:4008@hotline.example>;tag="),
        "{invite}"
    );
    assert_eq!(header(&invite, "To"), Some("<sip:8001@127.0.0.1>"));
    assert_eq!(header(&invite, "CSeq"), Some("1 INVITE"));
    assert_eq!(header(&invite, "X-Queue"), Some("repair"));
    assert!(
        header(&invite, "Contact")
            .expect("Contact")
            .contains(&endpoint.local_addr().to_string())
    );
    assert!(invite.ends_with(std::str::from_utf8(OFFER).expect("utf-8")));
    assert_eq!(dialog.answer(), ANSWER.as_bytes());
    // RFC 3261 §13.2.2.4: the ACK goes to the remote target (the 200's
    // Contact), along the route set (Record-Route reversed, §12.1.2), with
    // the INVITE's CSeq number and a branch of its own.
    let ack = recv_starting(&phone, "ACK ").await;
    // (URI parameter values are case-insensitive, RFC 3261 §19.1.4.)
    let start = format!("ack sip:8001@{me};transport=udp sip/2.0");
    assert!(ack.to_ascii_lowercase().starts_with(&start), "{ack}");
    assert_eq!(header(&ack, "CSeq"), Some("1 ACK"));
    assert_ne!(branch(&ack), branch(&invite));
    let routes: Vec<&str> = ack
        .lines()
        .filter_map(|line| line.strip_prefix("Route: "))
        .collect();
    let hops = [
        format!("<sip:{me};lr;hop=2>"),
        format!("<sip:{me};lr;hop=1>"),
    ];
    assert_eq!(routes, hops);
    assert!(
        header(&ack, "To")
            .expect("To")
            .ends_with(&format!(";tag={PHONE_TAG}"))
    );
    // A retransmitted 200 gets the same ACK again.
    send(&phone, endpoint.local_addr(), &ok).await;
    assert_eq!(recv_starting(&phone, "ACK ").await, ack);
    drop(dialog);
}

#[tokio::test(start_paused = true)]
async fn cancel_after_a_provisional_sends_cancel_and_the_487_is_acknowledged() {
    let (endpoint, _incoming) = endpoint().await;
    let phone = peer().await;
    let mut client = call(&endpoint, phone.local_addr().expect("addr"));
    let invite = recv_starting(&phone, "INVITE ").await;
    send(
        &phone,
        endpoint.local_addr(),
        &response_to(&invite, "180 Ringing", "", ""),
    )
    .await;
    assert!(matches!(
        next(&mut client).await,
        Ok(InviteResponse::Provisional { .. })
    ));
    client.cancel();
    // RFC 3261 §9.1: the INVITE's Request-URI, Call-ID, From, To (no tag),
    // CSeq number and branch.
    let cancel = recv_starting(&phone, "CANCEL ").await;
    assert_eq!(
        cancel.lines().next(),
        invite
            .lines()
            .next()
            .map(|l| l.replacen("INVITE", "CANCEL", 1))
            .as_deref()
    );
    assert_eq!(header(&cancel, "CSeq"), Some("1 CANCEL"));
    assert_eq!(branch(&cancel), branch(&invite));
    assert_eq!(header(&cancel, "To"), header(&invite, "To"));
    send(
        &phone,
        endpoint.local_addr(),
        &response_to(&cancel, "200 OK", "", ""),
    )
    .await;
    let terminated = response_to(&invite, "487 Request Terminated", "", "");
    send(&phone, endpoint.local_addr(), &terminated).await;
    assert!(matches!(
        next(&mut client).await,
        Ok(InviteResponse::Rejected(StatusCode::REQUEST_TERMINATED))
    ));
    // §17.1.1.3: the transaction acknowledges the 487, in its own branch.
    let ack = recv_starting(&phone, "ACK ").await;
    assert_eq!(branch(&ack), branch(&invite));
    assert_eq!(header(&ack, "CSeq"), Some("1 ACK"));
    assert!(
        header(&ack, "To")
            .expect("To")
            .ends_with(&format!(";tag={PHONE_TAG}"))
    );
}

#[tokio::test(start_paused = true)]
async fn a_cancel_asked_for_before_any_provisional_waits_for_one() {
    let (endpoint, _incoming) = endpoint().await;
    let phone = peer().await;
    let client = call(&endpoint, phone.local_addr().expect("addr"));
    let invite = recv_starting(&phone, "INVITE ").await;
    client.cancel();
    // No CANCEL yet: only the INVITE's retransmission (timer A) comes.
    let again = recv(&phone).await;
    assert!(again.starts_with("INVITE "), "{again}");
    send(
        &phone,
        endpoint.local_addr(),
        &response_to(&invite, "100 Trying", "", ""),
    )
    .await;
    let cancel = recv_starting(&phone, "CANCEL ").await;
    assert_eq!(branch(&cancel), branch(&invite));
}

#[tokio::test(start_paused = true)]
async fn an_unanswered_invite_is_resent_and_times_out_after_64_t1() {
    let (endpoint, _incoming) = endpoint().await;
    let phone = peer().await;
    let mut client = call(&endpoint, phone.local_addr().expect("addr"));
    let first = recv_starting(&phone, "INVITE ").await;
    let second = recv(&phone).await;
    assert_eq!(first, second, "timer A resends the same INVITE");
    let error = next(&mut client).await.expect_err("timer B");
    assert!(
        matches!(&error, SipError::TransactionTimeout { method, waited }
            if method == "INVITE" && *waited == Duration::from_secs(32)),
        "{error:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_dropped_call_handle_cancels_the_call() {
    let (endpoint, _incoming) = endpoint().await;
    let phone = peer().await;
    let client = call(&endpoint, phone.local_addr().expect("addr"));
    let invite = recv_starting(&phone, "INVITE ").await;
    send(
        &phone,
        endpoint.local_addr(),
        &response_to(&invite, "180 Ringing", "", ""),
    )
    .await;
    tokio::task::yield_now().await;
    drop(client);
    let cancel = recv_starting(&phone, "CANCEL ").await;
    assert_eq!(branch(&cancel), branch(&invite));
}

#[tokio::test(start_paused = true)]
async fn in_a_call_we_placed_the_phones_bye_reaches_the_dialog() {
    let (endpoint, _incoming) = endpoint().await;
    let phone = peer().await;
    let me = phone.local_addr().expect("addr");
    let (mut dialog, invite, _) = answered_call(&endpoint, &phone).await;
    recv_starting(&phone, "ACK ").await;
    // The phone's BYE: its From is our To, its To our From (our tag).
    let bye = format!(
        "BYE sip:4008@{us} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bKphonebye\r\n\
         Max-Forwards: 70\r\nFrom: <sip:8001@127.0.0.1>;tag={PHONE_TAG}\r\nTo: {}\r\n\
         Call-ID: {}\r\nCSeq: 1 BYE\r\nContent-Length: 0\r\n\r\n",
        header(&invite, "From").expect("From"),
        header(&invite, "Call-ID").expect("Call-ID"),
        us = endpoint.local_addr(),
    );
    send(&phone, endpoint.local_addr(), &bye).await;
    assert!(status_line(&recv_starting(&phone, "SIP/2.0").await).starts_with("SIP/2.0 200"));
    let event = timeout(WAIT, dialog.next_event()).await.expect("in time");
    assert!(matches!(event, Some(DialogEvent::Bye)), "{event:?}");
}

#[tokio::test(start_paused = true)]
async fn in_a_call_we_placed_a_reinvite_and_our_bye_follow_the_dialog() {
    let (endpoint, _incoming) = endpoint().await;
    let phone = peer().await;
    let me = phone.local_addr().expect("addr");
    let (mut dialog, _, _) = answered_call(&endpoint, &phone).await;
    recv_starting(&phone, "ACK ").await;
    let hold = b"v=0\r\na=sendonly\r\n".to_vec();
    let reinviting = tokio::spawn(async move {
        let outcome = dialog.reinvite(hold).await;
        (dialog, outcome)
    });
    let reinvite = recv_starting(&phone, "INVITE ").await;
    let start = format!("invite sip:8001@{me};transport=udp sip/2.0");
    assert!(
        reinvite.to_ascii_lowercase().starts_with(&start),
        "{reinvite}"
    );
    assert_eq!(header(&reinvite, "CSeq"), Some("2 INVITE"));
    assert!(
        header(&reinvite, "To")
            .expect("To")
            .ends_with(&format!(";tag={PHONE_TAG}"))
    );
    assert!(reinvite.ends_with("a=sendonly\r\n"), "{reinvite}");
    let ok = response_to(&reinvite, "200 OK", "", "v=0\r\na=recvonly\r\n");
    send(&phone, endpoint.local_addr(), &ok).await;
    let (mut dialog, outcome) = reinviting.await.expect("task");
    let (status, body) = outcome.expect("answered");
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, b"v=0\r\na=recvonly\r\n");
    let ack = recv_starting(&phone, "ACK ").await;
    assert_eq!(header(&ack, "CSeq"), Some("2 ACK"));
    let hanging_up = tokio::spawn(async move { dialog.bye().await });
    let bye = recv_starting(&phone, "BYE ").await;
    assert_eq!(header(&bye, "CSeq"), Some("3 BYE"));
    let routes: Vec<&str> = bye
        .lines()
        .filter_map(|line| line.strip_prefix("Route: "))
        .collect();
    let hops = [
        format!("<sip:{me};lr;hop=2>"),
        format!("<sip:{me};lr;hop=1>"),
    ];
    assert_eq!(routes, hops);
    send(
        &phone,
        endpoint.local_addr(),
        &response_to(&bye, "200 OK", "", ""),
    )
    .await;
    assert_eq!(
        hanging_up.await.expect("task").expect("answered"),
        StatusCode::OK
    );
}

#[tokio::test(start_paused = true)]
async fn an_options_to_a_phone_gets_its_status_or_times_out() {
    let (endpoint, _incoming) = endpoint().await;
    let phone = peer().await;
    let me = phone.local_addr().expect("addr");
    let asking = {
        let endpoint = endpoint.clone();
        tokio::spawn(async move {
            endpoint
                .request("OPTIONS", target(me), parties(), Vec::new())
                .await
        })
    };
    let options = recv_starting(&phone, "OPTIONS ").await;
    assert_eq!(header(&options, "CSeq"), Some("1 OPTIONS"));
    send(
        &phone,
        endpoint.local_addr(),
        &response_to(&options, "200 OK", "", ""),
    )
    .await;
    assert_eq!(
        asking.await.expect("task").expect("answered"),
        StatusCode::OK
    );
    // Nobody answers: timer F.
    let error = endpoint
        .request("OPTIONS", target(me), parties(), Vec::new())
        .await
        .expect_err("no answer");
    assert!(
        matches!(&error, SipError::TransactionTimeout { method, waited }
            if method == "OPTIONS" && *waited == Duration::from_secs(32)),
        "{error:?}"
    );
}

#[tokio::test]
async fn requests_that_would_break_the_message_or_have_verbs_of_their_own_are_refused() {
    let (endpoint, _incoming) = endpoint().await;
    let phone: SocketAddr = "127.0.0.1:9".parse().expect("addr");
    for method in ["INVITE", "ACK", "CANCEL", "NOT A TOKEN"] {
        let refused = endpoint
            .request(method, target(phone), parties(), Vec::new())
            .await;
        assert!(
            matches!(refused, Err(SipError::InvalidMethod { .. })),
            "{method}"
        );
    }
    let mut bad = target(phone);
    bad.uri = "sip:8001@127.0.0.1\r\nX-Injected: 1".to_owned();
    assert!(matches!(
        endpoint.invite(bad, parties(), Vec::new(), OFFER.to_vec()),
        Err(SipError::InvalidUri { .. })
    ));
}

#[tokio::test(start_paused = true)]
async fn a_2xx_crossing_the_cancel_of_a_dropped_call_is_acknowledged_and_hung_up() {
    let (endpoint, _incoming) = endpoint().await;
    let phone = peer().await;
    let me = phone.local_addr().expect("addr");
    let client = call(&endpoint, me);
    let invite = recv_starting(&phone, "INVITE ").await;
    send(
        &phone,
        endpoint.local_addr(),
        &response_to(&invite, "180 Ringing", "", ""),
    )
    .await;
    tokio::task::yield_now().await;
    drop(client);
    recv_starting(&phone, "CANCEL ").await;
    // The phone was answered before the CANCEL reached it.
    let contact = format!("Contact: <sip:8001@{me}>\r\n");
    let ok = response_to(&invite, "200 OK", &contact, ANSWER);
    send(&phone, endpoint.local_addr(), &ok).await;
    let ack = recv_starting(&phone, "ACK ").await;
    assert_eq!(header(&ack, "CSeq"), Some("1 ACK"));
    let bye = recv_starting(&phone, "BYE ").await;
    assert_eq!(header(&bye, "CSeq"), Some("2 BYE"));
}

#[tokio::test(start_paused = true)]
async fn a_2xx_from_a_second_fork_is_acknowledged_and_hung_up() {
    let (endpoint, _incoming) = endpoint().await;
    let phone = peer().await;
    let (dialog, invite, _) = answered_call(&endpoint, &phone).await;
    recv_starting(&phone, "ACK ").await;
    let me = phone.local_addr().expect("addr");
    let fork = response_to(
        &invite,
        "200 OK",
        &format!("Contact: <sip:8002@{me}>\r\n"),
        ANSWER,
    )
    .replace(&format!(";tag={PHONE_TAG}"), ";tag=other-fork");
    send(&phone, endpoint.local_addr(), &fork).await;
    let ack = recv_starting(&phone, "ACK ").await;
    assert!(header(&ack, "To").expect("To").ends_with(";tag=other-fork"));
    let bye = recv_starting(&phone, "BYE ").await;
    assert!(bye.starts_with(&format!("BYE sip:8002@{me} ")), "{bye}");
    assert!(header(&bye, "To").expect("To").ends_with(";tag=other-fork"));
    drop(dialog);
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_invite_without_a_final_response_is_given_up_after_64_t1() {
    let (endpoint, _incoming) = endpoint().await;
    let phone = peer().await;
    let mut client = call(&endpoint, phone.local_addr().expect("addr"));
    let invite = recv_starting(&phone, "INVITE ").await;
    send(
        &phone,
        endpoint.local_addr(),
        &response_to(&invite, "180 Ringing", "", ""),
    )
    .await;
    assert!(matches!(
        next(&mut client).await,
        Ok(InviteResponse::Provisional { .. })
    ));
    client.cancel();
    let cancel = recv_starting(&phone, "CANCEL ").await;
    send(
        &phone,
        endpoint.local_addr(),
        &response_to(&cancel, "200 OK", "", ""),
    )
    .await;
    // The phone never sends its 487 (RFC 3261 §9.1).
    let error = next(&mut client).await.expect_err("given up");
    assert!(
        matches!(error, SipError::TransactionTimeout { .. }),
        "{error:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_407_is_answered_with_credentials_in_the_same_call_and_the_next_cseq() {
    let (endpoint, _incoming) = endpoint().await;
    let trunk = peer().await;
    let me = trunk.local_addr().expect("addr");
    let mut client = call(&endpoint, me);
    let invite = recv_starting(&trunk, "INVITE ").await;
    let challenge = "Proxy-Authenticate: Digest realm=\"carrier\", nonce=\"abc123\", \
                     qop=\"auth\", algorithm=MD5\r\n";
    let refused = response_to(&invite, "407 Proxy Authentication Required", challenge, "");
    send(&trunk, endpoint.local_addr(), &refused).await;
    let Ok(InviteResponse::Challenged(asked)) = next(&mut client).await else {
        panic!("expected the challenge handed over");
    };
    assert_eq!(asked.status(), StatusCode::PROXY_AUTHENTICATION_REQUIRED);
    // The 407 is acknowledged by its transaction (§17.1.1.3).
    let ack = recv_starting(&trunk, "ACK ").await;
    assert_eq!(branch(&ack), branch(&invite));
    let mut retry = client
        .authenticate(&asked, "hotline", "secret")
        .expect("an answerable challenge");
    let again = recv_starting(&trunk, "INVITE ").await;
    // RFC 3261 §22.2: same Call-ID, From and To, CSeq one higher, a new
    // transaction.
    assert_eq!(header(&again, "Call-ID"), header(&invite, "Call-ID"));
    assert_eq!(header(&again, "From"), header(&invite, "From"));
    assert_eq!(header(&again, "To"), header(&invite, "To"));
    assert_eq!(header(&again, "CSeq"), Some("2 INVITE"));
    assert_ne!(branch(&again), branch(&invite));
    assert_eq!(header(&again, "X-Queue"), Some("repair"));
    let credentials = header(&again, "Proxy-Authorization").expect("credentials");
    let expected = crate::sip::authorization(
        [challenge
            .trim_start_matches("Proxy-Authenticate: ")
            .trim_end()],
        "hotline",
        "secret",
        crate::sip::ClientRequest {
            method: "INVITE",
            uri: &format!("sip:8001@{me}"),
            cnonce: credentials
                .split("cnonce=\"")
                .nth(1)
                .and_then(|rest| rest.split('"').next())
                .expect("cnonce"),
            nc: 1,
        },
    )
    .expect("answerable");
    assert_eq!(credentials, expected);
    let extra = format!("Contact: <sip:8001@{me}>\r\n");
    send(
        &trunk,
        endpoint.local_addr(),
        &response_to(&again, "200 OK", &extra, ANSWER),
    )
    .await;
    let Ok(InviteResponse::Answered(mut dialog)) = next(&mut retry).await else {
        panic!("expected the call answered");
    };
    let ack = recv_starting(&trunk, "ACK ").await;
    assert_eq!(header(&ack, "CSeq"), Some("2 ACK"));
    // Our BYE goes on from the INVITE's CSeq.
    let (bye, _) = tokio::join!(dialog.bye(), async {
        let bye = recv_starting(&trunk, "BYE ").await;
        assert_eq!(header(&bye, "CSeq"), Some("3 BYE"));
        send(
            &trunk,
            endpoint.local_addr(),
            &response_to(&bye, "200 OK", "", ""),
        )
        .await;
    });
    bye.expect("BYE answered");
}

#[tokio::test(start_paused = true)]
async fn a_401_without_a_challenge_is_a_plain_rejection() {
    let (endpoint, _incoming) = endpoint().await;
    let trunk = peer().await;
    let mut client = call(&endpoint, trunk.local_addr().expect("addr"));
    let invite = recv_starting(&trunk, "INVITE ").await;
    let refused = response_to(&invite, "401 Unauthorized", "", "");
    send(&trunk, endpoint.local_addr(), &refused).await;
    assert!(matches!(
        next(&mut client).await,
        Ok(InviteResponse::Rejected(StatusCode::UNAUTHORIZED))
    ));
}
