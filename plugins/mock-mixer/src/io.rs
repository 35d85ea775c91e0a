//! Chunked access to the input WAV files and the output stream, so the mixer never needs a
//! whole file in memory. The WASM build implements these over the host's `audio-source` and
//! `audio-sink`; tests implement them over byte vectors.

use guest_support::failure::Failure;

/// Bytes requested per read and buffered per write.
pub const CHUNK_BYTES: usize = 64 * 1024;

/// Inputs numbered by `source`, read in pieces.
pub trait AudioInputs {
    /// Byte length of input `source`.
    fn size(&self, source: u32) -> Result<u64, String>;

    /// Up to `max_bytes` bytes from `offset`; fewer only at the end of the input.
    fn read(&self, source: u32, offset: u64, max_bytes: u32) -> Result<Vec<u8>, String>;
}

/// Where the mixed episode goes, in order.
pub trait AudioOutput {
    fn write(&mut self, chunk: &[u8]) -> Result<(), String>;
}

/// Collects small writes into `CHUNK_BYTES` pieces before handing them to the output.
pub struct ChunkedWriter<'a> {
    output: &'a mut dyn AudioOutput,
    pending: Vec<u8>,
}

impl<'a> ChunkedWriter<'a> {
    pub fn new(output: &'a mut dyn AudioOutput) -> Self {
        Self {
            output,
            pending: Vec::with_capacity(CHUNK_BYTES),
        }
    }

    pub fn write(&mut self, bytes: &[u8]) -> Result<(), Failure> {
        self.pending.extend_from_slice(bytes);
        if self.pending.len() >= CHUNK_BYTES {
            self.flush()?;
        }
        Ok(())
    }

    pub fn flush(&mut self) -> Result<(), Failure> {
        if self.pending.is_empty() {
            return Ok(());
        }
        self.output
            .write(&self.pending)
            .map_err(|error| Failure::internal(format!("writing the output failed: {error}")))?;
        self.pending.clear();
        Ok(())
    }
}

#[cfg(test)]
pub mod memory {
    //! In-memory inputs and output for tests.

    use super::{AudioInputs, AudioOutput};

    pub struct MemoryInputs(pub Vec<Vec<u8>>);

    impl MemoryInputs {
        fn input(&self, source: u32) -> Result<&[u8], String> {
            self.0
                .get(source as usize)
                .map(Vec::as_slice)
                .ok_or_else(|| format!("no input {source}"))
        }
    }

    impl AudioInputs for MemoryInputs {
        fn size(&self, source: u32) -> Result<u64, String> {
            Ok(self.input(source)?.len() as u64)
        }

        fn read(&self, source: u32, offset: u64, max_bytes: u32) -> Result<Vec<u8>, String> {
            let input = self.input(source)?;
            let start = usize::try_from(offset)
                .map_err(|_| "offset too large".to_string())?
                .min(input.len());
            let end = start.saturating_add(max_bytes as usize).min(input.len());
            Ok(input[start..end].to_vec())
        }
    }

    #[derive(Default)]
    pub struct MemoryOutput {
        pub bytes: Vec<u8>,
        pub writes: usize,
        /// Fail every write after this many, to test error handling.
        pub fail_after: Option<usize>,
    }

    impl AudioOutput for MemoryOutput {
        fn write(&mut self, chunk: &[u8]) -> Result<(), String> {
            if self.fail_after.is_some_and(|limit| self.writes >= limit) {
                return Err("disk full".into());
            }
            self.writes += 1;
            self.bytes.extend_from_slice(chunk);
            Ok(())
        }
    }
}
