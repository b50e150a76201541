//! Keypad digits: the [`Digit`] type, RFC 4733 telephone-event payloads and
//! the receiver that turns their retransmissions into one digit per key
//! press, and SIP INFO `application/dtmf-relay` bodies.
//!
//! Sans-IO: payloads and bodies in, digits out. Knows nothing of sockets and
//! nothing of what a digit means to the caller of this layer.

use std::fmt;

use super::MediaError;

/// Length of a telephone-event payload (RFC 4733 §2.3, Figure 1).
const TELEPHONE_EVENT_LEN: usize = 4;
/// E (end) bit in the second octet (RFC 4733 §2.3.2).
const END_BIT: u8 = 0x80;
/// Volume bits in the second octet (RFC 4733 §2.3.4).
const VOLUME_MASK: u8 = 0x3F;
/// DTMF events 0-15, in event-code order (RFC 4733 §3.2, Table 7).
const DTMF_EVENTS: [char; 16] = [
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '*', '#', 'A', 'B', 'C', 'D',
];

/// One keypad symbol: `0`-`9`, `*`, `#` or `A`-`D`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Digit(char);

impl Digit {
    /// The digit for a keypad symbol; lower-case `a`-`d` are accepted.
    pub fn new(symbol: char) -> Option<Digit> {
        let symbol = symbol.to_ascii_uppercase();
        DTMF_EVENTS.contains(&symbol).then_some(Digit(symbol))
    }

    /// The digit for an RFC 4733 DTMF event code (0-15).
    pub fn from_event(event: u8) -> Option<Digit> {
        DTMF_EVENTS.get(usize::from(event)).copied().map(Digit)
    }

    /// The keypad symbol.
    pub fn as_char(self) -> char {
        self.0
    }
}

impl fmt::Display for Digit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A telephone-event payload (RFC 4733 §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelephoneEvent {
    /// Event code (§2.3.1); 0-15 are DTMF.
    pub event: u8,
    /// E bit: this packet ends the event (§2.3.2).
    pub end: bool,
    /// Power level in -dBm0, 0-63 (§2.3.4).
    pub volume: u8,
    /// Duration so far, in timestamp units (§2.3.5).
    pub duration: u16,
}

impl TelephoneEvent {
    /// Parses the first 4 octets of a payload; the rest, if any, is ignored
    /// (RFC 4733 §2.5.1.5 allows several events in one packet; the first is
    /// the current one).
    pub fn parse(payload: &[u8]) -> Result<TelephoneEvent, MediaError> {
        let Some(&[event, flags, d0, d1]) = payload.first_chunk::<TELEPHONE_EVENT_LEN>() else {
            return Err(MediaError::TelephoneEventTooShort { len: payload.len() });
        };
        Ok(TelephoneEvent {
            event,
            end: flags & END_BIT != 0,
            volume: flags & VOLUME_MASK,
            duration: u16::from_be_bytes([d0, d1]),
        })
    }

    /// The keypad digit, when the event is DTMF.
    pub fn digit(&self) -> Option<Digit> {
        Digit::from_event(self.event)
    }
}

/// Turns received telephone-event packets into one digit per key press.
///
/// An event is identified by its RTP timestamp (RFC 4733 §2.5.1.1: every
/// packet of an event carries the event's start time). The digit is reported
/// at the first packet seen of an event, so a prompt can be cut at once;
/// updates, the three retransmitted end packets (§2.5.1.4) and packets of
/// events older than the last one report nothing. A long press split into
/// segments (§2.5.1.3) is reported once.
#[derive(Debug, Clone, Copy, Default)]
pub struct DtmfReceiver {
    last: Option<LastEvent>,
}

#[derive(Debug, Clone, Copy)]
struct LastEvent {
    ssrc: u32,
    timestamp: u32,
    event: u8,
    end_seen: bool,
    max_duration: bool,
}

impl DtmfReceiver {
    /// A receiver that has seen no event.
    pub fn new() -> DtmfReceiver {
        DtmfReceiver::default()
    }

    /// Takes one telephone-event packet of the RTP stream `ssrc`; returns
    /// the digit if this packet starts a new DTMF event. Events are told
    /// apart by their RTP timestamp within one stream (RFC 4733 §2.5.1.1);
    /// a new SSRC starts a new timestamp space, so its first event is new.
    pub fn receive(&mut self, ssrc: u32, timestamp: u32, payload: &[u8]) -> Option<Digit> {
        let event = TelephoneEvent::parse(payload).ok()?;
        let digit = event.digit()?;
        if let Some(last) = &mut self.last
            && last.ssrc == ssrc
        {
            // Signed distance in timestamp space: 0 is the same event,
            // negative an older one arriving late.
            let age = timestamp.wrapping_sub(last.timestamp) as i32;
            if age == 0 {
                last.end_seen |= event.end;
                last.max_duration |= event.duration == u16::MAX;
                return None;
            }
            if age < 0 {
                return None;
            }
            // RFC 4733 §2.5.1.3: a segment following one that reached the
            // maximum duration continues the same key press.
            let continues = !last.end_seen && last.max_duration && last.event == event.event;
            *last = LastEvent {
                ssrc,
                timestamp,
                event: event.event,
                end_seen: event.end,
                max_duration: event.duration == u16::MAX,
            };
            return (!continues).then_some(digit);
        }
        self.last = Some(LastEvent {
            ssrc,
            timestamp,
            event: event.event,
            end_seen: event.end,
            max_duration: event.duration == u16::MAX,
        });
        Some(digit)
    }
}

/// The digit of a SIP INFO body of type `application/dtmf-relay`
/// (`Signal=5\r\nDuration=160`): the `Signal` key in any case, spaces around
/// key and value allowed.
pub fn parse_dtmf_relay(body: &str) -> Option<Digit> {
    body.lines().find_map(|line| {
        let (key, value) = line.split_once('=')?;
        if !key.trim().eq_ignore_ascii_case("signal") {
            return None;
        }
        let mut chars = value.trim().chars();
        match (chars.next(), chars.next()) {
            (Some(symbol), None) => Digit::new(symbol),
            _ => None,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SSRC: u32 = 0x1234_5678;

    #[test]
    fn an_event_of_a_new_stream_is_new_even_at_the_same_timestamp() {
        let mut rx = DtmfReceiver::new();
        assert_eq!(rx.receive(1, 1000, &payload(2, true, 480)), Digit::new('2'));
        assert_eq!(rx.receive(1, 1000, &payload(2, true, 480)), None);
        assert_eq!(
            rx.receive(2, 1000, &payload(11, false, 160)),
            Digit::new('#')
        );
        assert_eq!(rx.receive(2, 1000, &payload(11, true, 480)), None);
    }

    fn payload(event: u8, end: bool, duration: u16) -> [u8; 4] {
        let d = duration.to_be_bytes();
        [event, if end { 0x80 | 10 } else { 10 }, d[0], d[1]]
    }

    #[test]
    fn digits_accept_only_keypad_symbols() {
        for c in "0123456789*#ABCD".chars() {
            assert_eq!(Digit::new(c).map(Digit::as_char), Some(c));
        }
        assert_eq!(Digit::new('b').map(Digit::as_char), Some('B'));
        assert_eq!(Digit::new('E'), None);
        assert_eq!(Digit::new(' '), None);
        assert_eq!(Digit::new('5').map(|d| d.to_string()), Some("5".to_owned()));
    }

    #[test]
    fn event_codes_map_to_rfc_4733_digits() {
        assert_eq!(Digit::from_event(0), Digit::new('0'));
        assert_eq!(Digit::from_event(9), Digit::new('9'));
        assert_eq!(Digit::from_event(10), Digit::new('*'));
        assert_eq!(Digit::from_event(11), Digit::new('#'));
        assert_eq!(Digit::from_event(12), Digit::new('A'));
        assert_eq!(Digit::from_event(15), Digit::new('D'));
        assert_eq!(Digit::from_event(16), None);
    }

    #[test]
    fn telephone_event_fields_are_parsed() {
        let e = TelephoneEvent::parse(&[11, 0x80 | 0x0A, 0x03, 0x20]).expect("4 octets");
        assert_eq!(
            e,
            TelephoneEvent {
                event: 11,
                end: true,
                volume: 10,
                duration: 800
            }
        );
        assert_eq!(e.digit(), Digit::new('#'));
        assert!(matches!(
            TelephoneEvent::parse(&[1, 2, 3]),
            Err(MediaError::TelephoneEventTooShort { len: 3 })
        ));
    }

    #[test]
    fn one_key_press_with_retransmitted_ends_reports_once_at_its_start() {
        let mut rx = DtmfReceiver::new();
        assert_eq!(
            rx.receive(SSRC, 1000, &payload(5, false, 160)),
            Digit::new('5')
        );
        assert_eq!(rx.receive(SSRC, 1000, &payload(5, false, 320)), None);
        for _ in 0..3 {
            assert_eq!(rx.receive(SSRC, 1000, &payload(5, true, 480)), None);
        }
    }

    #[test]
    fn the_same_digit_pressed_again_reports_again() {
        let mut rx = DtmfReceiver::new();
        assert_eq!(
            rx.receive(SSRC, 1000, &payload(5, true, 480)),
            Digit::new('5')
        );
        assert_eq!(
            rx.receive(SSRC, 3000, &payload(5, false, 160)),
            Digit::new('5')
        );
        assert_eq!(
            rx.receive(SSRC, 5000, &payload(7, false, 160)),
            Digit::new('7')
        );
    }

    #[test]
    fn a_late_packet_of_an_earlier_event_reports_nothing() {
        let mut rx = DtmfReceiver::new();
        assert_eq!(
            rx.receive(SSRC, u32::MAX - 10, &payload(1, false, 160)),
            Digit::new('1')
        );
        assert_eq!(
            rx.receive(SSRC, 500, &payload(2, false, 160)),
            Digit::new('2')
        );
        assert_eq!(
            rx.receive(SSRC, u32::MAX - 10, &payload(1, true, 480)),
            None
        );
    }

    #[test]
    fn a_long_press_split_into_segments_reports_once() {
        let mut rx = DtmfReceiver::new();
        assert_eq!(
            rx.receive(SSRC, 0, &payload(3, false, u16::MAX)),
            Digit::new('3')
        );
        assert_eq!(rx.receive(SSRC, 65535, &payload(3, false, 800)), None);
        assert_eq!(rx.receive(SSRC, 65535, &payload(3, true, 1600)), None);
        assert_eq!(
            rx.receive(SSRC, 90000, &payload(3, false, 160)),
            Digit::new('3')
        );
    }

    #[test]
    fn non_dtmf_events_and_short_payloads_report_nothing() {
        let mut rx = DtmfReceiver::new();
        assert_eq!(rx.receive(SSRC, 0, &payload(32, false, 160)), None);
        assert_eq!(rx.receive(SSRC, 160, &[1, 2]), None);
        assert_eq!(
            rx.receive(SSRC, 320, &payload(4, false, 160)),
            Digit::new('4')
        );
    }

    #[test]
    fn dtmf_relay_bodies_give_their_signal() {
        assert_eq!(
            parse_dtmf_relay("Signal=5\r\nDuration=160\r\n"),
            Digit::new('5')
        );
        assert_eq!(
            parse_dtmf_relay("Signal= *\r\nDuration= 250"),
            Digit::new('*')
        );
        assert_eq!(parse_dtmf_relay("signal = #\n"), Digit::new('#'));
        assert_eq!(
            parse_dtmf_relay("Duration=160\r\nSIGNAL=a"),
            Digit::new('A')
        );
        assert_eq!(parse_dtmf_relay("Signal=12"), None);
        assert_eq!(parse_dtmf_relay("Signal="), None);
        assert_eq!(parse_dtmf_relay("Duration=160"), None);
        assert_eq!(parse_dtmf_relay(""), None);
    }
}
