//! RIFF WAVE encoding of 16-bit PCM.

/// Bytes in the canonical header written before the samples.
pub const HEADER_BYTES: usize = 44;

/// The canonical 44-byte header for `frames` frames of 16-bit PCM.
pub fn header(sample_rate: u32, channels: u16, frames: u32) -> [u8; HEADER_BYTES] {
    let block_align = channels * 2;
    let data_bytes = frames * u32::from(block_align);
    let mut header = [0u8; HEADER_BYTES];
    let fields: [&[u8]; 13] = [
        b"RIFF",
        &(36 + data_bytes).to_le_bytes(),
        b"WAVE",
        b"fmt ",
        &16u32.to_le_bytes(),
        &1u16.to_le_bytes(),
        &channels.to_le_bytes(),
        &sample_rate.to_le_bytes(),
        &(sample_rate * u32::from(block_align)).to_le_bytes(),
        &block_align.to_le_bytes(),
        &16u16.to_le_bytes(),
        b"data",
        &data_bytes.to_le_bytes(),
    ];
    let mut at = 0;
    for field in fields {
        header[at..at + field.len()].copy_from_slice(field);
        at += field.len();
    }
    header
}
