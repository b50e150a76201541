//! Hot paths of the media layer: G.711 per 20 ms frame, RTP parse and write,
//! RFC 4733 payload parse and the digit receiver.
//!
//! `cargo bench --bench media`

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use hotline::media::{
    Codec, DtmfReceiver, RTP_HEADER_LEN, RtpPacket, RtpWriter, SAMPLES_PER_FRAME, TelephoneEvent,
};

fn speech_like_frame() -> [i16; SAMPLES_PER_FRAME] {
    std::array::from_fn(|i| ((i as f32 * 0.3).sin() * 12000.0) as i16)
}

fn g711(c: &mut Criterion) {
    let pcm = speech_like_frame();
    for codec in [Codec::Pcmu, Codec::Pcma] {
        let name = codec.encoding_name();
        c.bench_function(&format!("g711 {name} encode 160 samples"), |b| {
            let mut wire = [0u8; SAMPLES_PER_FRAME];
            b.iter(|| {
                codec.encode(black_box(&pcm), &mut wire);
                black_box(&wire);
            })
        });
        let mut wire = [0u8; SAMPLES_PER_FRAME];
        codec.encode(&pcm, &mut wire);
        c.bench_function(&format!("g711 {name} decode 160 samples"), |b| {
            let mut out = [0i16; SAMPLES_PER_FRAME];
            b.iter(|| {
                codec.decode(black_box(&wire), &mut out);
                black_box(&out);
            })
        });
    }
}

fn rtp(c: &mut Criterion) {
    let payload = [0xD5u8; SAMPLES_PER_FRAME];
    let mut packet = [0u8; RTP_HEADER_LEN + SAMPLES_PER_FRAME];
    let mut writer = RtpWriter::new(0x1234_5678, 1, 0);
    c.bench_function("rtp write 160-byte payload", |b| {
        b.iter(|| black_box(writer.write(&mut packet, 8, false, black_box(&payload), 160)))
    });
    let len = writer.write(&mut packet, 8, false, &payload, 160);
    c.bench_function("rtp parse 160-byte payload", |b| {
        b.iter(|| black_box(RtpPacket::parse(black_box(&packet[..len]))).is_ok())
    });
}

fn dtmf(c: &mut Criterion) {
    let payload = [5u8, 0x80 | 10, 3, 32];
    c.bench_function("rfc 4733 telephone-event parse", |b| {
        b.iter(|| black_box(TelephoneEvent::parse(black_box(&payload))).is_ok())
    });
    c.bench_function("rfc 4733 receiver, retransmitted end packet", |b| {
        let mut receiver = DtmfReceiver::new();
        receiver.receive(1, 8000, &payload);
        b.iter(|| black_box(receiver.receive(1, black_box(8000), black_box(&payload))))
    });
}

criterion_group!(benches, g711, rtp, dtmf);
criterion_main!(benches);
