//! RTP packets (RFC 3550 §5.1): a borrowed, validated view of an incoming
//! packet, a writer for outgoing packets, and the receive-side sequence
//! bookkeeping of RFC 3550 Appendix A.1/A.3 that estimates losses.
//!
//! Sans-IO and allocation-free: bytes in, values out. Knows no codec and no
//! socket.

use rtp_rs::{RtpReader, RtpReaderError};

use super::MediaError;

/// Length of the RTP fixed header (RFC 3550 §5.1).
pub const RTP_HEADER_LEN: usize = 12;
/// The only RTP version in use (RFC 3550 §5.1, V field).
pub const RTP_VERSION: u8 = 2;

/// Position of the version field in the first octet.
const VERSION_SHIFT: u32 = 6;
/// Marker bit in the second octet.
const MARKER_BIT: u8 = 0x80;
/// Payload-type bits in the second octet.
const PAYLOAD_TYPE_MASK: u8 = 0x7F;

/// A validated incoming RTP packet, borrowing the receive buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpPacket<'a> {
    /// PT field.
    pub payload_type: u8,
    /// M bit.
    pub marker: bool,
    /// Sequence number.
    pub sequence: u16,
    /// Media timestamp, in clock-rate units.
    pub timestamp: u32,
    /// Synchronisation source.
    pub ssrc: u32,
    /// The payload, without CSRCs, header extension or padding.
    pub payload: &'a [u8],
}

impl<'a> RtpPacket<'a> {
    /// Parses and validates a datagram (RFC 3550 §5.1: version 2, CSRC list,
    /// header extension and padding all inside the datagram).
    pub fn parse(datagram: &'a [u8]) -> Result<RtpPacket<'a>, MediaError> {
        let reader = RtpReader::new(datagram).map_err(|e| match e {
            RtpReaderError::BufferTooShort(len) => MediaError::RtpTooShort { len },
            RtpReaderError::UnsupportedVersion(version) => MediaError::RtpVersion { version },
            RtpReaderError::HeadersTruncated {
                header_len,
                buffer_len,
            } => MediaError::RtpTruncated {
                header_len,
                len: buffer_len,
            },
            RtpReaderError::PaddingLengthInvalid(pad_len) => MediaError::RtpPadding { pad_len },
        })?;
        Ok(RtpPacket {
            payload_type: reader.payload_type(),
            marker: reader.mark(),
            sequence: reader.sequence_number().into(),
            timestamp: reader.timestamp(),
            ssrc: reader.ssrc(),
            payload: reader.payload(),
        })
    }
}

/// The sending side of one RTP stream: SSRC, next sequence number and
/// current timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpWriter {
    /// Synchronisation source of this stream.
    pub ssrc: u32,
    /// Sequence number of the next packet.
    pub seq: u16,
    /// Timestamp of the next packet.
    pub timestamp: u32,
}

impl RtpWriter {
    /// A writer starting at the given values.
    pub fn new(ssrc: u32, seq: u16, timestamp: u32) -> RtpWriter {
        RtpWriter {
            ssrc,
            seq,
            timestamp,
        }
    }

    /// A writer with a random SSRC, initial sequence number and timestamp,
    /// as RFC 3550 §5.1 and §8 ask.
    pub fn random() -> RtpWriter {
        RtpWriter::new(rand::random(), rand::random(), rand::random())
    }

    /// Bytes [`write`](Self::write) needs for a payload of `payload_len`.
    pub fn packet_len(payload_len: usize) -> usize {
        RTP_HEADER_LEN + payload_len
    }

    /// Writes one packet (fixed header, no CSRC, no extension, no padding)
    /// into `out` and returns its length; then advances the sequence number
    /// by one and the timestamp by `samples`.
    ///
    /// If `out` is shorter than [`packet_len`](Self::packet_len), nothing is
    /// written, nothing advances and 0 is returned. Only the low 7 bits of
    /// `payload_type` are used.
    pub fn write(
        &mut self,
        out: &mut [u8],
        payload_type: u8,
        marker: bool,
        payload: &[u8],
        samples: u32,
    ) -> usize {
        let len = Self::packet_len(payload.len());
        let Some(packet) = out.get_mut(..len) else {
            return 0;
        };
        let (header, body) = packet.split_at_mut(RTP_HEADER_LEN);
        header[0] = RTP_VERSION << VERSION_SHIFT;
        header[1] = (payload_type & PAYLOAD_TYPE_MASK) | if marker { MARKER_BIT } else { 0 };
        header[2..4].copy_from_slice(&self.seq.to_be_bytes());
        header[4..8].copy_from_slice(&self.timestamp.to_be_bytes());
        header[8..12].copy_from_slice(&self.ssrc.to_be_bytes());
        body.copy_from_slice(payload);
        self.seq = self.seq.wrapping_add(1);
        self.advance(samples);
        len
    }

    /// Advances the timestamp by `samples` without sending, so the stream
    /// stays continuous across silence (RFC 3550 §5.1: the timestamp
    /// reflects the sampling instant, not the packet count).
    pub fn advance(&mut self, samples: u32) {
        self.timestamp = self.timestamp.wrapping_add(samples);
    }
}

/// Where an incoming packet sits in its source's sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SequenceOrder {
    /// The first packet, or newer than every packet seen so far.
    Newer,
    /// A duplicate or a packet older than the newest one seen.
    Late,
}

/// Receive-side sequence bookkeeping for one source (RFC 3550 A.1, A.3),
/// without the probation phase: the first packet starts the count.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct SequenceTracker {
    state: Option<TrackerState>,
}

#[derive(Debug, Clone, Copy)]
struct TrackerState {
    ssrc: u32,
    base_seq: u16,
    max_seq: u16,
    /// Count of sequence number wraps, shifted (RFC 3550 A.1 `cycles`).
    cycles: u64,
    received: u64,
    /// Losses estimated for earlier sources of this session.
    lost_before: u64,
}

/// Sequence numbers per cycle (RFC 3550 A.1 `RTP_SEQ_MOD`).
const RTP_SEQ_MOD: u64 = 1 << 16;

impl SequenceTracker {
    /// Records a packet and says whether it is newer than all before it.
    /// A new SSRC starts a new count; the losses of the old one are kept.
    pub(crate) fn observe(&mut self, ssrc: u32, seq: u16) -> SequenceOrder {
        let lost_before = self.lost_estimate();
        match &mut self.state {
            Some(s) if s.ssrc == ssrc => {
                s.received += 1;
                // Signed distance in sequence space (RFC 3550 A.1 udelta).
                let delta = seq.wrapping_sub(s.max_seq) as i16;
                if delta > 0 {
                    if seq < s.max_seq {
                        s.cycles += RTP_SEQ_MOD;
                    }
                    s.max_seq = seq;
                    SequenceOrder::Newer
                } else {
                    SequenceOrder::Late
                }
            }
            _ => {
                self.state = Some(TrackerState {
                    ssrc,
                    base_seq: seq,
                    max_seq: seq,
                    cycles: 0,
                    received: 1,
                    lost_before,
                });
                SequenceOrder::Newer
            }
        }
    }

    /// Expected minus received packets (RFC 3550 A.3), never below zero,
    /// summed over every source seen.
    pub(crate) fn lost_estimate(&self) -> u64 {
        self.state.map_or(0, |s| {
            let extended_max = s.cycles + u64::from(s.max_seq);
            let expected = extended_max - u64::from(s.base_seq) + 1;
            s.lost_before + expected.saturating_sub(s.received)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An RFC 3550 packet by hand: V=2, P, X, CC, M, PT.
    fn packet(first: u8, second: u8, rest: &[u8]) -> Vec<u8> {
        let mut p = vec![
            first, second, 0x12, 0x34, 0, 0, 0x03, 0x20, 0xde, 0xad, 0xbe, 0xef,
        ];
        p.extend_from_slice(rest);
        p
    }

    #[test]
    fn a_plain_packet_exposes_its_header_fields() {
        let p = packet(0x80, 0x80, &[1, 2, 3]);
        let view = RtpPacket::parse(&p).expect("valid packet");
        assert_eq!(view.payload_type, 0);
        assert!(view.marker);
        assert_eq!(view.sequence, 0x1234);
        assert_eq!(view.timestamp, 800);
        assert_eq!(view.ssrc, 0xdeadbeef);
        assert_eq!(view.payload, &[1, 2, 3]);
    }

    #[test]
    fn csrcs_extension_and_padding_are_skipped() {
        // CC=1, X=1, P=1: one CSRC, a one-word extension, two padding octets.
        let rest = [
            0, 0, 0, 9, // CSRC
            0xbe, 0xde, 0, 1, 0xaa, 0xbb, 0xcc, 0xdd, // extension
            7, 8, // payload
            0, 2, // padding, count 2
        ];
        let p = packet(0x80 | 0x20 | 0x10 | 0x01, 101, &rest);
        let view = RtpPacket::parse(&p).expect("valid packet");
        assert_eq!(view.payload_type, 101);
        assert!(!view.marker);
        assert_eq!(view.payload, &[7, 8]);
    }

    #[test]
    fn garbage_is_refused_with_a_typed_error() {
        assert!(matches!(
            RtpPacket::parse(&[0x80, 0, 1]),
            Err(MediaError::RtpTooShort { len: 3 })
        ));
        assert!(matches!(
            RtpPacket::parse(&packet(0x40, 0, &[])),
            Err(MediaError::RtpVersion { version: 1 })
        ));
        // CC=3 but no room for three CSRCs.
        assert!(matches!(
            RtpPacket::parse(&packet(0x83, 0, &[0, 0, 0, 1])),
            Err(MediaError::RtpTruncated { .. })
        ));
        // Extension header announced, missing.
        assert!(matches!(
            RtpPacket::parse(&packet(0x90, 0, &[])),
            Err(MediaError::RtpTruncated { .. })
        ));
        // Padding count larger than what follows the header.
        assert!(matches!(
            RtpPacket::parse(&packet(0xA0, 0, &[1, 9])),
            Err(MediaError::RtpPadding { pad_len: 9 })
        ));
        assert!(matches!(
            RtpPacket::parse(&packet(0xA0, 0, &[1, 0])),
            Err(MediaError::RtpPadding { pad_len: 0 })
        ));
    }

    #[test]
    fn writer_output_parses_back_and_advances() {
        let mut writer = RtpWriter::new(0x01020304, 0xFFFF, u32::MAX - 100);
        let mut out = [0u8; 64];
        let len = writer.write(&mut out, 8, true, &[0xD5; 4], 160);
        assert_eq!(len, RTP_HEADER_LEN + 4);
        let view = RtpPacket::parse(&out[..len]).expect("own packet parses");
        assert_eq!(view.payload_type, 8);
        assert!(view.marker);
        assert_eq!(view.sequence, 0xFFFF);
        assert_eq!(view.timestamp, u32::MAX - 100);
        assert_eq!(view.ssrc, 0x01020304);
        assert_eq!(view.payload, &[0xD5; 4]);
        // Both counters wrap (RFC 3550 §5.1).
        assert_eq!(writer.seq, 0);
        assert_eq!(writer.timestamp, 59);
        let len = writer.write(&mut out, 8, false, &[0; 4], 160);
        let view = RtpPacket::parse(&out[..len]).expect("own packet parses");
        assert!(!view.marker);
        assert_eq!(view.sequence, 0);
    }

    #[test]
    fn writer_refuses_a_short_buffer_without_advancing() {
        let mut writer = RtpWriter::new(1, 2, 3);
        let mut out = [0u8; RTP_HEADER_LEN + 3];
        assert_eq!(writer.write(&mut out, 0, false, &[0; 4], 160), 0);
        assert_eq!(writer, RtpWriter::new(1, 2, 3));
    }

    #[test]
    fn tracker_counts_gaps_across_a_wrap_and_ignores_late_packets() {
        let mut t = SequenceTracker::default();
        assert_eq!(t.observe(7, 65534), SequenceOrder::Newer);
        assert_eq!(t.observe(7, 65535), SequenceOrder::Newer);
        assert_eq!(t.observe(7, 2), SequenceOrder::Newer); // 0 and 1 lost
        assert_eq!(t.lost_estimate(), 2);
        assert_eq!(t.observe(7, 0), SequenceOrder::Late); // 0 arrives late
        assert_eq!(t.observe(7, 2), SequenceOrder::Late); // duplicate
        assert_eq!(t.lost_estimate(), 0);
        // A new source keeps what the old one lost.
        assert_eq!(t.observe(7, 5), SequenceOrder::Newer); // 3 and 4 lost
        assert_eq!(t.observe(9, 100), SequenceOrder::Newer);
        assert_eq!(t.observe(9, 102), SequenceOrder::Newer);
        // Source 7 lost 1, 3 and 4, but its duplicate counts as received
        // (RFC 3550 A.3): 2; source 9 lost 101: 1.
        assert_eq!(t.lost_estimate(), 3);
    }
}
