//! WAV bytes through the read_input path (RIFF reader, decode, resample).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = ringwire_media::input::read_wav_bytes("fuzz.wav".as_ref(), data);
});
