//! G.711 μ-law (PCMU) and A-law (PCMA), ITU-T G.711 as profiled by
//! RFC 3551 §4.5.14.
//!
//! Table-driven and allocation-free: every table is computed at compile time
//! from the reference algorithm (the segment/quantisation rules of G.711
//! Tables 1a and 2a). Knows nothing of RTP or sockets.

use super::SAMPLES_PER_FRAME;

/// μ-law bias added before the segment search (G.711 Table 2a).
const MULAW_BIAS: i32 = 0x84;
/// Largest magnitude μ-law encodes, on the 14-bit scale (8159 = 0x1FDF).
const MULAW_CLIP: i32 = 8159;
/// Input bits μ-law keeps: 14 (the low two bits of a 16-bit sample are dropped).
const MULAW_SHIFT: u32 = 2;
/// Input bits A-law keeps: 13.
const ALAW_SHIFT: u32 = 3;
/// A-law toggles its even bits on the wire (G.711 §A.2, "even bit inversion").
const ALAW_XOR: u8 = 0x55;
/// Sign bit of an encoded octet.
const SIGN_BIT: u8 = 0x80;
/// Quantisation (mantissa) bits of an encoded octet.
const QUANT_MASK: u8 = 0x0F;
/// Segment (exponent) bits of an encoded octet.
const SEG_MASK: u8 = 0x70;
/// Position of the segment bits.
const SEG_SHIFT: u32 = 4;

/// RTP payload type of PCMU (RFC 3551 §6, Table 4).
const PCMU_PAYLOAD_TYPE: u8 = 0;
/// RTP payload type of PCMA (RFC 3551 §6, Table 4).
const PCMA_PAYLOAD_TYPE: u8 = 8;

/// Number of distinct μ-law inputs (14-bit samples).
const MULAW_INPUTS: usize = 1 << (16 - MULAW_SHIFT);
/// Number of distinct A-law inputs (13-bit samples).
const ALAW_INPUTS: usize = 1 << (16 - ALAW_SHIFT);

/// A G.711 codec with a static RTP payload type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Codec {
    /// μ-law, payload type 0.
    Pcmu,
    /// A-law, payload type 8.
    Pcma,
}

impl Codec {
    /// The static RTP payload type (RFC 3551 §6).
    pub fn payload_type(self) -> u8 {
        match self {
            Codec::Pcmu => PCMU_PAYLOAD_TYPE,
            Codec::Pcma => PCMA_PAYLOAD_TYPE,
        }
    }

    /// The codec a static payload type stands for, if it is G.711.
    pub fn from_payload_type(payload_type: u8) -> Option<Codec> {
        match payload_type {
            PCMU_PAYLOAD_TYPE => Some(Codec::Pcmu),
            PCMA_PAYLOAD_TYPE => Some(Codec::Pcma),
            _ => None,
        }
    }

    /// The encoding name used in SDP `a=rtpmap` (RFC 3551 §6).
    pub fn encoding_name(self) -> &'static str {
        match self {
            Codec::Pcmu => "PCMU",
            Codec::Pcma => "PCMA",
        }
    }

    /// Encodes `pcm` into `out`, one octet per sample. Encodes
    /// `min(pcm.len(), out.len())` samples.
    pub fn encode(&self, pcm: &[i16], out: &mut [u8]) {
        match self {
            Codec::Pcmu => {
                for (o, &s) in out.iter_mut().zip(pcm) {
                    *o = MULAW_ENCODE[mulaw_index(s)];
                }
            }
            Codec::Pcma => {
                for (o, &s) in out.iter_mut().zip(pcm) {
                    *o = ALAW_ENCODE[alaw_index(s)];
                }
            }
        }
    }

    /// One 20 ms frame of digital silence (every sample 0), encoded: what
    /// is sent while nothing plays, so the stream never stops (a carrier
    /// hangs up a call that receives no RTP). Computed at compile time.
    pub fn silence(self) -> &'static [u8; SAMPLES_PER_FRAME] {
        match self {
            Codec::Pcmu => &MULAW_SILENCE,
            Codec::Pcma => &ALAW_SILENCE,
        }
    }

    /// Decodes `payload` into `out`, one sample per octet. Decodes
    /// `min(payload.len(), out.len())` octets.
    pub fn decode(&self, payload: &[u8], out: &mut [i16]) {
        let table = match self {
            Codec::Pcmu => &MULAW_DECODE,
            Codec::Pcma => &ALAW_DECODE,
        };
        for (o, &b) in out.iter_mut().zip(payload) {
            *o = table[usize::from(b)];
        }
    }
}

/// Table index of a sample: its top 14 bits, as an unsigned 14-bit number.
fn mulaw_index(sample: i16) -> usize {
    usize::from((sample as u16) >> MULAW_SHIFT)
}

/// Table index of a sample: its top 13 bits, as an unsigned 13-bit number.
fn alaw_index(sample: i16) -> usize {
    usize::from((sample as u16) >> ALAW_SHIFT)
}

/// The signed value of a table index of `bits` bits (two's complement).
const fn index_to_signed(index: usize, bits: u32) -> i32 {
    let half = 1 << (bits - 1);
    if index >= half {
        index as i32 - (1 << bits)
    } else {
        index as i32
    }
}

/// μ-law encoding of a 14-bit sample (G.711 Table 2a; Sun `linear2ulaw`).
const fn mulaw_encode_14(value: i32) -> u8 {
    // Segment end points on the biased 14-bit scale.
    const SEG_END: [i32; 8] = [0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF];
    let (mut magnitude, mask) = if value < 0 {
        (-value, 0x7F)
    } else {
        (value, 0xFF)
    };
    if magnitude > MULAW_CLIP {
        magnitude = MULAW_CLIP;
    }
    magnitude += MULAW_BIAS >> MULAW_SHIFT;
    let mut segment = 0;
    while segment < SEG_END.len() && magnitude > SEG_END[segment] {
        segment += 1;
    }
    if segment >= SEG_END.len() {
        // Only the clipped maximum lands past the last segment end.
        return 0x7F ^ mask;
    }
    let quant = ((magnitude >> (segment + 1)) & QUANT_MASK as i32) as u8;
    (((segment as u8) << SEG_SHIFT) | quant) ^ mask
}

/// A-law encoding of a 13-bit sample (G.711 Table 1a; Sun `linear2alaw`).
const fn alaw_encode_13(value: i32) -> u8 {
    const SEG_END: [i32; 8] = [0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF];
    let (magnitude, mask) = if value >= 0 {
        (value, SIGN_BIT | ALAW_XOR)
    } else {
        (-value - 1, ALAW_XOR)
    };
    let mut segment = 0;
    while segment < SEG_END.len() && magnitude > SEG_END[segment] {
        segment += 1;
    }
    if segment >= SEG_END.len() {
        return 0x7F ^ mask;
    }
    let shift = if segment < 2 { 1 } else { segment };
    let quant = ((magnitude >> shift) & QUANT_MASK as i32) as u8;
    (((segment as u8) << SEG_SHIFT) | quant) ^ mask
}

/// μ-law decoding (Sun `ulaw2linear`).
const fn mulaw_decode(code: u8) -> i16 {
    let u = !code;
    let mut t = (((u & QUANT_MASK) as i32) << 3) + MULAW_BIAS;
    t <<= ((u & SEG_MASK) >> SEG_SHIFT) as i32;
    if u & SIGN_BIT != 0 {
        (MULAW_BIAS - t) as i16
    } else {
        (t - MULAW_BIAS) as i16
    }
}

/// A-law decoding (Sun `alaw2linear`).
const fn alaw_decode(code: u8) -> i16 {
    let a = code ^ ALAW_XOR;
    let mut t = ((a & QUANT_MASK) as i32) << 4;
    let segment = ((a & SEG_MASK) >> SEG_SHIFT) as i32;
    match segment {
        0 => t += 8,
        1 => t += 0x108,
        _ => {
            t += 0x108;
            t <<= segment - 1;
        }
    }
    if a & SIGN_BIT != 0 {
        t as i16
    } else {
        -t as i16
    }
}

static MULAW_ENCODE: [u8; MULAW_INPUTS] = {
    let mut table = [0u8; MULAW_INPUTS];
    let mut i = 0;
    while i < MULAW_INPUTS {
        table[i] = mulaw_encode_14(index_to_signed(i, 16 - MULAW_SHIFT));
        i += 1;
    }
    table
};

static ALAW_ENCODE: [u8; ALAW_INPUTS] = {
    let mut table = [0u8; ALAW_INPUTS];
    let mut i = 0;
    while i < ALAW_INPUTS {
        table[i] = alaw_encode_13(index_to_signed(i, 16 - ALAW_SHIFT));
        i += 1;
    }
    table
};

static MULAW_SILENCE: [u8; SAMPLES_PER_FRAME] = [mulaw_encode_14(0); SAMPLES_PER_FRAME];

static ALAW_SILENCE: [u8; SAMPLES_PER_FRAME] = [alaw_encode_13(0); SAMPLES_PER_FRAME];

static MULAW_DECODE: [i16; 256] = {
    let mut table = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = mulaw_decode(i as u8);
        i += 1;
    }
    table
};

static ALAW_DECODE: [i16; 256] = {
    let mut table = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = alaw_decode(i as u8);
        i += 1;
    }
    table
};

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(codec: Codec, s: i16) -> u8 {
        let mut out = [0u8; 1];
        codec.encode(&[s], &mut out);
        out[0]
    }

    fn dec(codec: Codec, b: u8) -> i16 {
        let mut out = [0i16; 1];
        codec.decode(&[b], &mut out);
        out[0]
    }

    #[test]
    fn payload_types_follow_rfc_3551() {
        assert_eq!(Codec::Pcmu.payload_type(), 0);
        assert_eq!(Codec::Pcma.payload_type(), 8);
        assert_eq!(Codec::from_payload_type(0), Some(Codec::Pcmu));
        assert_eq!(Codec::from_payload_type(8), Some(Codec::Pcma));
        assert_eq!(Codec::from_payload_type(18), None);
        assert_eq!(Codec::Pcmu.encoding_name(), "PCMU");
        assert_eq!(Codec::Pcma.encoding_name(), "PCMA");
    }

    #[test]
    fn the_silence_payload_is_zero_encoded_and_decodes_to_zero() {
        // G.711: μ-law +0 is 0xFF, A-law +0 is 0xD5 (0x80 after the even-bit
        // inversion).
        assert_eq!(Codec::Pcmu.silence(), &[0xFF; SAMPLES_PER_FRAME]);
        assert_eq!(Codec::Pcma.silence(), &[0xD5; SAMPLES_PER_FRAME]);
        for codec in [Codec::Pcmu, Codec::Pcma] {
            let mut encoded = [0u8; SAMPLES_PER_FRAME];
            codec.encode(&[0; SAMPLES_PER_FRAME], &mut encoded);
            assert_eq!(&encoded, codec.silence());
            let mut decoded = [7i16; SAMPLES_PER_FRAME];
            codec.decode(codec.silence(), &mut decoded);
            assert!(decoded.iter().all(|&s| s.abs() <= 8), "{decoded:?}");
        }
    }

    #[test]
    fn mulaw_matches_itu_known_values() {
        // G.711 Table 2a: 0xFF is +0, 0x7F is -0, 0x80/0x00 the extremes
        // (±8031 on the 14-bit scale, ±32124 in 16 bits).
        assert_eq!(dec(Codec::Pcmu, 0xFF), 0);
        assert_eq!(dec(Codec::Pcmu, 0x7F), 0);
        assert_eq!(dec(Codec::Pcmu, 0x80), 32124);
        assert_eq!(dec(Codec::Pcmu, 0x00), -32124);
        assert_eq!(dec(Codec::Pcmu, 0xFE), 8);
        assert_eq!(dec(Codec::Pcmu, 0x7E), -8);
        assert_eq!(enc(Codec::Pcmu, 0), 0xFF);
        assert_eq!(enc(Codec::Pcmu, i16::MAX), 0x80);
        assert_eq!(enc(Codec::Pcmu, i16::MIN), 0x00);
        assert_eq!(enc(Codec::Pcmu, 1000), 0xCE);
        assert_eq!(enc(Codec::Pcmu, -1000), 0x4E);
    }

    #[test]
    fn alaw_matches_itu_known_values() {
        // G.711 Table 1a, with even bits inverted on the wire: 0xD5/0x55 are
        // the smallest steps (±8), 0xAA/0x2A the extremes (±32256).
        assert_eq!(dec(Codec::Pcma, 0xD5), 8);
        assert_eq!(dec(Codec::Pcma, 0x55), -8);
        assert_eq!(dec(Codec::Pcma, 0xAA), 32256);
        assert_eq!(dec(Codec::Pcma, 0x2A), -32256);
        assert_eq!(enc(Codec::Pcma, 0), 0xD5);
        assert_eq!(enc(Codec::Pcma, -1), 0x55);
        assert_eq!(enc(Codec::Pcma, i16::MAX), 0xAA);
        assert_eq!(enc(Codec::Pcma, i16::MIN), 0x2A);
        assert_eq!(enc(Codec::Pcma, 1000), 0xFA);
        assert_eq!(enc(Codec::Pcma, -1000), 0x7A);
    }

    #[test]
    fn every_code_survives_decode_then_encode() {
        for b in 0..=255u8 {
            // μ-law has two zeros; -0 (0x7F) comes back as +0 (0xFF).
            let expected = if b == 0x7F { 0xFF } else { b };
            assert_eq!(
                enc(Codec::Pcmu, dec(Codec::Pcmu, b)),
                expected,
                "PCMU {b:#04x}"
            );
            assert_eq!(enc(Codec::Pcma, dec(Codec::Pcma, b)), b, "PCMA {b:#04x}");
        }
    }

    #[test]
    fn round_trip_error_stays_within_one_quantisation_step() {
        for codec in [Codec::Pcmu, Codec::Pcma] {
            let mut previous = i16::MIN;
            for s in (i16::MIN..=i16::MAX).step_by(7) {
                let back = dec(codec, enc(codec, s));
                // The largest step of either law is 1024 in 16-bit units;
                // the relative error is about 1/32 of the magnitude.
                let error = (i32::from(back) - i32::from(s)).abs();
                assert!(
                    error <= 1024 + i32::from(s).abs() / 16,
                    "{codec:?} {s} -> {back}"
                );
                assert!(back >= previous, "{codec:?} is not monotonic at {s}");
                previous = back;
            }
        }
    }

    #[test]
    fn a_frame_encodes_and_decodes_in_place_buffers() {
        let pcm: Vec<i16> = (0..160).map(|i| ((i * 200) - 16000) as i16).collect();
        for codec in [Codec::Pcmu, Codec::Pcma] {
            let mut wire = [0u8; 160];
            let mut back = [0i16; 160];
            codec.encode(&pcm, &mut wire);
            codec.decode(&wire, &mut back);
            for (a, b) in pcm.iter().zip(back.iter()) {
                assert!(
                    (i32::from(*a) - i32::from(*b)).abs() <= 512,
                    "{codec:?} {a} {b}"
                );
            }
        }
    }
}
