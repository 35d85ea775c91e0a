//! The host side of the mixer's streaming interfaces: input clips are read in bounded chunks
//! from files or memory, and the episode is written to a file as the plugin produces it.

use std::fs::File;
use std::io::{BufWriter, Write as _};
use std::os::unix::fs::FileExt as _;
use std::path::PathBuf;
use std::sync::Arc;

use super::bindings::{audio_sink, audio_source};
use super::sandbox::StoreState;

/// Largest chunk handed to the plugin at once, whatever it asks for, so one read cannot make
/// the host allocate without bound.
const MAX_READ_BYTES: u32 = 1024 * 1024;

/// One input of a mixing job.
#[derive(Debug, Clone)]
pub enum AudioInput {
    /// A WAV file on disk (for example a blob in the store).
    File(PathBuf),
    /// WAV bytes already in memory.
    Bytes(Arc<[u8]>),
}

/// Open inputs and the output of one mixer call.
pub(crate) struct MixerIo {
    inputs: Vec<OpenInput>,
    output: BufWriter<File>,
    pub(crate) bytes_written: u64,
    pub(crate) write_error: Option<String>,
}

enum OpenInput {
    File { file: File, size: u64 },
    Bytes(Arc<[u8]>),
}

impl MixerIo {
    /// Opens every input and creates (truncates) the output file.
    pub(crate) fn open(inputs: &[AudioInput], output: &std::path::Path) -> Result<MixerIo, String> {
        let inputs = inputs
            .iter()
            .enumerate()
            .map(|(index, input)| match input {
                AudioInput::File(path) => {
                    let file = File::open(path).map_err(|error| {
                        format!(
                            "cannot open audio input {index} ({}): {error}",
                            path.display()
                        )
                    })?;
                    let size = file
                        .metadata()
                        .map_err(|error| format!("cannot stat audio input {index}: {error}"))?
                        .len();
                    Ok(OpenInput::File { file, size })
                }
                AudioInput::Bytes(bytes) => Ok(OpenInput::Bytes(bytes.clone())),
            })
            .collect::<Result<Vec<_>, String>>()?;
        let output = File::create(output)
            .map_err(|error| format!("cannot create mixer output {}: {error}", output.display()))?;
        Ok(MixerIo {
            inputs,
            output: BufWriter::with_capacity(256 * 1024, output),
            bytes_written: 0,
            write_error: None,
        })
    }

    /// Flushes the output and syncs it to disk.
    pub(crate) fn finish(mut self) -> Result<u64, String> {
        self.output
            .flush()
            .and_then(|()| self.output.get_ref().sync_all())
            .map_err(|error| format!("cannot write mixer output: {error}"))?;
        Ok(self.bytes_written)
    }

    fn input(&self, source: u32) -> Result<&OpenInput, String> {
        self.inputs.get(source as usize).ok_or_else(|| {
            format!(
                "no audio input {source} (this call has {})",
                self.inputs.len()
            )
        })
    }
}

impl OpenInput {
    fn size(&self) -> u64 {
        match self {
            OpenInput::File { size, .. } => *size,
            OpenInput::Bytes(bytes) => bytes.len() as u64,
        }
    }
}

impl audio_source::Host for StoreState {
    fn size(&mut self, source: u32) -> Result<u64, String> {
        let io = self
            .mixer_io
            .as_ref()
            .ok_or("this call has no audio inputs")?;
        Ok(io.input(source)?.size())
    }

    fn read(&mut self, source: u32, offset: u64, max_bytes: u32) -> Result<Vec<u8>, String> {
        let io = self
            .mixer_io
            .as_ref()
            .ok_or("this call has no audio inputs")?;
        let input = io.input(source)?;
        let remaining = input.size().saturating_sub(offset);
        let length = remaining.min(u64::from(max_bytes.min(MAX_READ_BYTES))) as usize;
        if length == 0 {
            return Ok(Vec::new());
        }
        match input {
            OpenInput::Bytes(bytes) => {
                let start = offset as usize;
                Ok(bytes[start..start + length].to_vec())
            }
            OpenInput::File { file, .. } => {
                let mut buffer = vec![0; length];
                file.read_exact_at(&mut buffer, offset)
                    .map_err(|error| format!("cannot read audio input {source}: {error}"))?;
                Ok(buffer)
            }
        }
    }
}

impl audio_sink::Host for StoreState {
    fn write(&mut self, chunk: Vec<u8>) -> Result<(), String> {
        let io = self
            .mixer_io
            .as_mut()
            .ok_or("this call has no audio output")?;
        if let Err(error) = io.output.write_all(&chunk) {
            let message = format!("cannot write mixer output: {error}");
            io.write_error = Some(message.clone());
            return Err(message);
        }
        io.bytes_written += chunk.len() as u64;
        Ok(())
    }
}
