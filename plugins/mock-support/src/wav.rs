//! The canonical RIFF WAVE header for 16-bit PCM.

/// Bytes in the canonical header written before the samples.
pub const PCM16_HEADER_BYTES: usize = 44;

/// The header for `frames` frames of 16-bit PCM; the caller checks that the data fits the
/// 32-bit RIFF sizes.
pub fn pcm16_header(sample_rate: u32, channels: u16, frames: u32) -> [u8; PCM16_HEADER_BYTES] {
    let block_align = channels * 2;
    let data_bytes = frames * u32::from(block_align);
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
    let mut header = [0u8; PCM16_HEADER_BYTES];
    let mut at = 0;
    for field in fields {
        header[at..at + field.len()].copy_from_slice(field);
        at += field.len();
    }
    header
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_follow_the_frame_count() {
        let header = pcm16_header(24_000, 2, 100);
        assert_eq!(&header[0..4], b"RIFF");
        assert_eq!(
            u32::from_le_bytes(header[4..8].try_into().unwrap()),
            36 + 400
        );
        assert_eq!(u32::from_le_bytes(header[40..44].try_into().unwrap()), 400);
    }
}
