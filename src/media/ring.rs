//! A fixed ring of received samples between the network (packets arrive
//! whenever they do, of any packetisation) and the 20 ms clock (one frame
//! taken per tick). Fixed size, no allocation; when full, the oldest
//! samples are dropped so latency stays bounded.

use super::{Frame, SAMPLES_PER_FRAME};

/// Frames the ring holds: 160 ms of jitter absorbed before dropping.
pub(crate) const RING_FRAMES: usize = 8;
const CAPACITY: usize = RING_FRAMES * SAMPLES_PER_FRAME;

/// Received samples waiting for the next tick.
#[derive(Debug, Clone)]
pub(crate) struct SampleRing {
    samples: [i16; CAPACITY],
    /// Index of the oldest sample.
    head: usize,
    /// Samples held.
    len: usize,
    /// Samples dropped because the ring was full.
    dropped: u64,
}

impl Default for SampleRing {
    fn default() -> SampleRing {
        SampleRing {
            samples: [0; CAPACITY],
            head: 0,
            len: 0,
            dropped: 0,
        }
    }
}

impl SampleRing {
    /// Appends samples, dropping the oldest ones if they do not fit.
    pub(crate) fn push(&mut self, mut input: &[i16]) {
        if input.len() > CAPACITY {
            self.dropped += (input.len() - CAPACITY) as u64;
            input = &input[input.len() - CAPACITY..];
        }
        let overflow = (self.len + input.len()).saturating_sub(CAPACITY);
        if overflow > 0 {
            self.head = (self.head + overflow) % CAPACITY;
            self.len -= overflow;
            self.dropped += overflow as u64;
        }
        let tail = (self.head + self.len) % CAPACITY;
        let first = input.len().min(CAPACITY - tail);
        self.samples[tail..tail + first].copy_from_slice(&input[..first]);
        self.samples[..input.len() - first].copy_from_slice(&input[first..]);
        self.len += input.len();
    }

    /// Takes the oldest full frame into `out`. With less than a frame held,
    /// takes nothing and returns false (the rest waits for the next packet,
    /// so a 30 ms packetisation is not chopped into gaps).
    pub(crate) fn pop_frame(&mut self, out: &mut Frame) -> bool {
        if self.len < SAMPLES_PER_FRAME {
            return false;
        }
        let first = SAMPLES_PER_FRAME.min(CAPACITY - self.head);
        out[..first].copy_from_slice(&self.samples[self.head..self.head + first]);
        out[first..].copy_from_slice(&self.samples[..SAMPLES_PER_FRAME - first]);
        self.head = (self.head + SAMPLES_PER_FRAME) % CAPACITY;
        self.len -= SAMPLES_PER_FRAME;
        true
    }

    /// Forgets everything held (e.g. when the codec changes).
    pub(crate) fn clear(&mut self) {
        self.head = 0;
        self.len = 0;
    }

    /// Samples dropped so far because the ring was full.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame_of(value: i16) -> Frame {
        [value; SAMPLES_PER_FRAME]
    }

    #[test]
    fn frames_come_out_in_order() {
        let mut ring = SampleRing::default();
        ring.push(&frame_of(1));
        ring.push(&frame_of(2));
        let mut out = frame_of(0);
        assert!(ring.pop_frame(&mut out));
        assert_eq!(out, frame_of(1));
        assert!(ring.pop_frame(&mut out));
        assert_eq!(out, frame_of(2));
        assert!(!ring.pop_frame(&mut out));
    }

    #[test]
    fn a_partial_frame_waits_for_the_rest() {
        let mut ring = SampleRing::default();
        let ptime_30ms: Vec<i16> = (0..240).collect();
        ring.push(&ptime_30ms);
        let mut out = frame_of(0);
        assert!(ring.pop_frame(&mut out));
        assert_eq!(out[159], 159);
        assert!(!ring.pop_frame(&mut out));
        ring.push(&ptime_30ms);
        assert!(ring.pop_frame(&mut out));
        assert_eq!(out[0], 160);
        assert_eq!(out[80], 0);
    }

    #[test]
    fn a_full_ring_drops_the_oldest_and_wraps() {
        let mut ring = SampleRing::default();
        for v in 0..(RING_FRAMES as i16 + 3) {
            ring.push(&frame_of(v));
        }
        assert_eq!(ring.dropped(), 3 * SAMPLES_PER_FRAME as u64);
        let mut out = frame_of(0);
        for v in 3..(RING_FRAMES as i16 + 3) {
            assert!(ring.pop_frame(&mut out));
            assert_eq!(out, frame_of(v));
        }
        assert!(!ring.pop_frame(&mut out));
        // Unaligned pushes across the wrap point stay in order.
        let ramp: Vec<i16> = (0..1000).collect();
        ring.push(&ramp[..70]);
        ring.push(&ramp[70..1000]);
        let mut next = 0;
        while ring.pop_frame(&mut out) {
            assert_eq!(out[0], next);
            assert_eq!(out[159], next + 159);
            next += 160;
        }
        assert_eq!(next, 960);
    }

    #[test]
    fn more_than_the_capacity_at_once_keeps_the_newest() {
        let mut ring = SampleRing::default();
        let big: Vec<i16> = (0..(CAPACITY as i16 + 10)).collect();
        ring.push(&big);
        let mut out = frame_of(0);
        assert!(ring.pop_frame(&mut out));
        assert_eq!(out[0], 10);
        ring.clear();
        assert!(!ring.pop_frame(&mut out));
    }
}
