//! A caller written with plain UDP sockets, for what SIPp cannot check: it
//! times every RTP packet the daemon sends and, like a carrier's SBC
//! (Asterisk `rtp_timeout`), hangs up with BYE when the daemon's RTP stops
//! for longer than a limit. It follows a script on a 20 ms clock: µ-law
//! audio, RFC 4733 digits, silence; it answers the daemon's BYE with 200.

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The packetisation interval, and one step of the script.
pub const TICK: Duration = Duration::from_millis(20);
/// µ-law payload octets per packet.
const PAYLOAD_LEN: usize = 160;
/// µ-law digital silence.
const ULAW_SILENCE: u8 = 0xFF;
/// The telephone-event payload type we offer (RFC 4733).
const EVENT_PT: u8 = 101;
/// The longest a call of this caller may last.
const CALL_LIMIT: Duration = Duration::from_secs(40);

/// What the caller does from a moment of the call (since its ACK) on.
#[derive(Clone, Debug)]
pub enum Step {
    /// Sends µ-law silence.
    Silence,
    /// Presses a key (RFC 4733, 120 ms), then sends silence.
    Digit(char),
    /// Sends this µ-law audio (looped), 160 octets a packet.
    Audio(Vec<u8>),
}

/// How the call ended, seen from the caller.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Ending {
    /// The daemon sent BYE; we answered 200.
    DaemonHungUp,
    /// The daemon's RTP stopped for longer than the limit; we sent BYE.
    HungUpOnSilence { gap: Duration, at: Duration },
    /// Neither within [`CALL_LIMIT`].
    TimedOut,
}

/// One RTP packet the daemon sent.
#[derive(Debug, Clone, Copy)]
pub struct Packet {
    /// When it arrived, since the ACK.
    pub at: Duration,
    pub marker: bool,
    pub payload_type: u8,
    pub seq: u16,
    pub timestamp: u32,
    /// Whether every payload octet was µ-law silence.
    pub silent: bool,
}

/// What the caller saw.
#[derive(Debug)]
pub struct CallReport {
    pub ending: Ending,
    /// When each step started, since the ACK.
    pub step_times: Vec<Duration>,
    /// Every RTP packet from the daemon, in arrival order.
    pub packets: Vec<Packet>,
    /// When the call ended, since the ACK.
    pub ended_at: Duration,
}

impl CallReport {
    /// The longest time without RTP from the daemon, from the ACK to the end
    /// of the call (before the first packet, after the last one included).
    pub fn longest_gap(&self) -> Duration {
        let mut previous = Duration::ZERO;
        let mut longest = Duration::ZERO;
        for packet in &self.packets {
            longest = longest.max(packet.at.saturating_sub(previous));
            previous = packet.at;
        }
        longest.max(self.ended_at.saturating_sub(previous))
    }
}

/// Calls `user` at `daemon`, follows `script` (each step from its time since
/// the ACK on) and hangs up if the daemon's RTP pauses for over `hang_up_after`.
pub fn call(
    daemon: SocketAddr,
    user: &str,
    script: &[(Duration, Step)],
    hang_up_after: Duration,
) -> CallReport {
    let sip = UdpSocket::bind("127.0.0.1:0").expect("bind SIP");
    let rtp = UdpSocket::bind("127.0.0.1:0").expect("bind RTP");
    let dialog = invite(&sip, &rtp, daemon, user);
    let acked = Instant::now();
    let received = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let receiver = spawn_receiver(&rtp, acked, received.clone(), stop.clone());
    sip.set_nonblocking(true).expect("non-blocking SIP");

    let mut sender = RtpSender::new(rtp, dialog.media);
    let mut step_times = Vec::new();
    let mut tick: u32 = 0;
    let ending = loop {
        let due = acked + TICK * tick;
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        tick += 1;
        let now = acked.elapsed();
        if let Some(bye) = incoming_bye(&sip) {
            sip.send_to(ok_for(&bye).as_bytes(), daemon)
                .expect("send 200");
            break Ending::DaemonHungUp;
        }
        let last = received
            .lock()
            .expect("packets lock")
            .last()
            .map_or(Duration::ZERO, |p: &Packet| p.at);
        if now.saturating_sub(last) > hang_up_after {
            send_bye(&sip, &dialog, daemon);
            break Ending::HungUpOnSilence {
                gap: now - last,
                at: now,
            };
        }
        if now > CALL_LIMIT {
            send_bye(&sip, &dialog, daemon);
            break Ending::TimedOut;
        }
        let current = script.iter().rposition(|(from, _)| *from <= now);
        if let Some(index) = current
            && step_times.len() <= index
        {
            step_times.resize(index + 1, now);
            sender.begin(&script[index].1);
        }
        sender.tick();
    };
    let ended_at = acked.elapsed();
    stop.store(true, Ordering::SeqCst);
    receiver.join().expect("receiver thread");
    let packets = received.lock().expect("packets lock").clone();
    CallReport {
        ending,
        step_times,
        packets,
        ended_at,
    }
}

/// What the caller knows of its dialog after the ACK.
struct Dialog {
    call_id: String,
    from: String,
    to: String,
    target: String,
    via_host: SocketAddr,
    /// Where the daemon wants RTP.
    media: SocketAddr,
}

/// INVITE with a PCMU + telephone-event offer, up to the ACK of its 200.
fn invite(sip: &UdpSocket, rtp: &UdpSocket, daemon: SocketAddr, user: &str) -> Dialog {
    let local = sip.local_addr().expect("SIP address");
    let media = rtp.local_addr().expect("RTP address");
    let call_id = format!("rust-caller-{}-{}@127.0.0.1", std::process::id(), unique());
    let from = format!("<sip:13800138000@{local}>;tag=caller{}", unique());
    let sdp = format!(
        "v=0\r\no=caller 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio {port} RTP/AVP 0 {EVENT_PT}\r\na=rtpmap:0 PCMU/8000\r\n\
         a=rtpmap:{EVENT_PT} telephone-event/8000\r\na=fmtp:{EVENT_PT} 0-16\r\n\
         a=ptime:20\r\na=sendrecv\r\n",
        port = media.port()
    );
    let request = format!(
        "INVITE sip:{user}@{daemon} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {local};branch=z9hG4bK-inv{n}\r\n\
         From: {from}\r\nTo: <sip:{user}@{daemon}>\r\nCall-ID: {call_id}\r\n\
         CSeq: 1 INVITE\r\nContact: <sip:13800138000@{local}>\r\nMax-Forwards: 70\r\n\
         Content-Type: application/sdp\r\nContent-Length: {len}\r\n\r\n{sdp}",
        n = unique(),
        len = sdp.len(),
    );
    sip.set_read_timeout(Some(Duration::from_millis(500)))
        .expect("timeout");
    let deadline = Instant::now() + Duration::from_secs(10);
    sip.send_to(request.as_bytes(), daemon)
        .expect("send INVITE");
    let ok = loop {
        assert!(Instant::now() < deadline, "no 200 to the INVITE");
        let mut buf = [0u8; 65535];
        let Ok((n, _)) = sip.recv_from(&mut buf) else {
            // RFC 3261 §17.1.1.2 Timer A, simplified: resend until answered.
            sip.send_to(request.as_bytes(), daemon)
                .expect("resend INVITE");
            continue;
        };
        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
        if text.starts_with("SIP/2.0 200") {
            break text;
        }
        assert!(text.starts_with("SIP/2.0 1"), "INVITE refused: {text}");
    };
    let to = header(&ok, "To").expect("To in the 200");
    let target = header(&ok, "Contact")
        .and_then(|c| Some(c.split_once('<')?.1.split_once('>')?.0.to_string()))
        .expect("Contact URI in the 200");
    let media = sdp_media(&ok).expect("c= and m= in the 200's SDP");
    let dialog = Dialog {
        call_id,
        from,
        to,
        target,
        via_host: local,
        media,
    };
    let ack = format!(
        "ACK {target} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bK-ack{n}\r\n\
         From: {from}\r\nTo: {to}\r\nCall-ID: {call_id}\r\nCSeq: 1 ACK\r\n\
         Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
        target = dialog.target,
        from = dialog.from,
        to = dialog.to,
        call_id = dialog.call_id,
        n = unique(),
    );
    sip.send_to(ack.as_bytes(), daemon).expect("send ACK");
    dialog
}

/// The daemon's BYE, if one is waiting (the socket is non-blocking).
fn incoming_bye(sip: &UdpSocket) -> Option<String> {
    let mut buf = [0u8; 65535];
    while let Ok((n, _)) = sip.recv_from(&mut buf) {
        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
        if text.starts_with("BYE ") {
            return Some(text);
        }
    }
    None
}

/// A 200 to `request`, with its Via, From, To, Call-ID and CSeq.
fn ok_for(request: &str) -> String {
    let mut response = String::from("SIP/2.0 200 OK\r\n");
    for name in ["Via", "From", "To", "Call-ID", "CSeq"] {
        if let Some(value) = header(request, name) {
            response.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    response.push_str("Content-Length: 0\r\n\r\n");
    response
}

/// Our BYE (RFC 3261 §15.1.1); its 200 is not waited for.
fn send_bye(sip: &UdpSocket, dialog: &Dialog, daemon: SocketAddr) {
    let bye = format!(
        "BYE {target} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bK-bye{n}\r\n\
         From: {from}\r\nTo: {to}\r\nCall-ID: {call_id}\r\nCSeq: 2 BYE\r\n\
         Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
        target = dialog.target,
        local = dialog.via_host,
        from = dialog.from,
        to = dialog.to,
        call_id = dialog.call_id,
        n = unique(),
    );
    sip.send_to(bye.as_bytes(), daemon).expect("send BYE");
}

/// The value of the first header `name` (full name, case-insensitive).
fn header(message: &str, name: &str) -> Option<String> {
    message
        .split("\r\n\r\n")
        .next()?
        .lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(key, _)| key.trim().eq_ignore_ascii_case(name))
        .map(|(_, value)| value.trim().to_string())
}

/// The audio address of an SDP body: its `c=` address and `m=audio` port.
fn sdp_media(message: &str) -> Option<SocketAddr> {
    let body = message.split_once("\r\n\r\n")?.1;
    let ip = body
        .lines()
        .find_map(|line| line.strip_prefix("c=IN IP4 "))?
        .trim();
    let port = body
        .lines()
        .find_map(|line| line.strip_prefix("m=audio "))?
        .split_whitespace()
        .next()?;
    format!("{ip}:{port}").parse().ok()
}

fn unique() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(7)
}

/// Notes every RTP packet that arrives until `stop`.
fn spawn_receiver(
    rtp: &UdpSocket,
    since: Instant,
    received: Arc<Mutex<Vec<Packet>>>,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<()> {
    let socket = rtp.try_clone().expect("clone RTP socket");
    socket
        .set_read_timeout(Some(Duration::from_millis(10)))
        .expect("timeout");
    std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        while !stop.load(Ordering::SeqCst) {
            let Ok((n, _)) = socket.recv_from(&mut buf) else {
                continue;
            };
            if n < 12 {
                continue;
            }
            let packet = Packet {
                at: since.elapsed(),
                marker: buf[1] & 0x80 != 0,
                payload_type: buf[1] & 0x7F,
                seq: u16::from_be_bytes([buf[2], buf[3]]),
                timestamp: u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]),
                silent: buf[12..n].iter().all(|&b| b == ULAW_SILENCE),
            };
            received.lock().expect("packets lock").push(packet);
        }
    })
}

/// Our side's RTP stream: one packet per tick of the current step.
struct RtpSender {
    socket: UdpSocket,
    to: SocketAddr,
    seq: u16,
    timestamp: u32,
    step: Step,
    /// Where in the audio, or the tick of the key press.
    position: usize,
}

impl RtpSender {
    fn new(socket: UdpSocket, to: SocketAddr) -> RtpSender {
        RtpSender {
            socket,
            to,
            seq: 1,
            timestamp: 0,
            step: Step::Silence,
            position: 0,
        }
    }

    fn begin(&mut self, step: &Step) {
        self.step = step.clone();
        self.position = 0;
    }

    fn tick(&mut self) {
        match &self.step {
            Step::Silence => self.send(0, false, &[ULAW_SILENCE; PAYLOAD_LEN]),
            Step::Audio(audio) => {
                let payload: Vec<u8> = (0..PAYLOAD_LEN)
                    .map(|i| audio[(self.position + i) % audio.len()])
                    .collect();
                self.position += PAYLOAD_LEN;
                self.send(0, false, &payload);
            }
            Step::Digit(key) => {
                self.digit_tick(*key);
                return;
            }
        }
        self.timestamp = self.timestamp.wrapping_add(PAYLOAD_LEN as u32);
    }

    /// RFC 4733 §2.5: the event's packets share its start timestamp, the
    /// first carries the marker, the end packet is sent three times; then
    /// silence again.
    fn digit_tick(&mut self, key: char) {
        let event = match key {
            '0'..='9' => key as u8 - b'0',
            '*' => 10,
            '#' => 11,
            other => panic!("no RFC 4733 event for {other:?}"),
        };
        let tick = self.position;
        self.position += 1;
        let duration = (PAYLOAD_LEN * (tick + 1).min(6)) as u16;
        let volume = 10;
        match tick {
            0..=4 => {
                let payload = [event, volume, (duration >> 8) as u8, duration as u8];
                self.send(EVENT_PT, tick == 0, &payload);
            }
            5 => {
                let payload = [event, 0x80 | volume, (duration >> 8) as u8, duration as u8];
                for _ in 0..3 {
                    self.send(EVENT_PT, false, &payload);
                }
                self.timestamp = self.timestamp.wrapping_add(duration.into());
                self.step = Step::Silence;
            }
            _ => unreachable!("the press ends on its sixth tick"),
        }
    }

    fn send(&mut self, payload_type: u8, marker: bool, payload: &[u8]) {
        let mut packet = Vec::with_capacity(12 + payload.len());
        packet.push(0x80);
        packet.push(payload_type | if marker { 0x80 } else { 0 });
        packet.extend_from_slice(&self.seq.to_be_bytes());
        packet.extend_from_slice(&self.timestamp.to_be_bytes());
        packet.extend_from_slice(&0x5eed_ca11_u32.to_be_bytes());
        packet.extend_from_slice(payload);
        self.seq = self.seq.wrapping_add(1);
        self.socket.send_to(&packet, self.to).expect("send RTP");
    }
}
