//! Pictures in a decode worker's shared memory (`vistterstream-decoder`, `crates/decoder`).
//!
//! The worker decodes a camera into the slots of a memory file it creates, and says on its
//! stdout which slot holds the next picture. Here the file is mapped read-only, and each
//! picture becomes a [`Bytes`] that views its slot; when the last clone of it drops (the
//! switcher moved on, the encoder's pipe read it), the slot goes back to the worker. No
//! picture crosses a pipe: see `bench/split.sh` and docs/architecture.md for what that saves.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::ptr::NonNull;
use std::sync::Arc;

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use crate::spawner::{BoxRead, BoxWrite};

/// What the worker says first (32 bytes on its stdout).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hello {
    /// The memory file's descriptor number in the worker.
    pub fd: u32,
    pub slots: u32,
    pub slot_len: usize,
    pub width: u32,
    pub height: u32,
}

pub const HELLO_LEN: usize = 32;
const MAGIC: &[u8; 8] = b"VSDW0001";

impl Hello {
    pub fn parse(b: &[u8; HELLO_LEN]) -> io::Result<Hello> {
        if &b[..8] != MAGIC {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "the decode worker does not speak this version of the protocol",
            ));
        }
        let u32_at = |i: usize| u32::from_le_bytes(b[i..i + 4].try_into().expect("4 bytes"));
        Ok(Hello {
            fd: u32_at(8),
            slots: u32_at(12),
            slot_len: u64::from_le_bytes(b[16..24].try_into().expect("8 bytes")) as usize,
            width: u32_at(24),
            height: u32_at(28),
        })
    }
}

/// The worker's memory file, mapped read-only here.
pub struct SharedFrames {
    base: NonNull<u8>,
    len: usize,
    slot_len: usize,
    slots: u32,
}

// SAFETY: the mapping is read-only here and lives until drop; which slots may be read is
// decided by the protocol (a slot is the appliance's from its record until it is given back).
#[allow(unsafe_code)]
unsafe impl Send for SharedFrames {}
// SAFETY: as for Send: shared reads of a read-only mapping.
#[allow(unsafe_code)]
unsafe impl Sync for SharedFrames {}

impl SharedFrames {
    /// Maps the memory file of worker `pid` that `hello` announced, checking its size against
    /// the frame size the program asked for.
    pub fn open(pid: u32, hello: &Hello, width: u32, height: u32) -> io::Result<SharedFrames> {
        let slot_len = width as usize * height as usize * 3 / 2;
        if hello.width != width || hello.height != height || hello.slot_len != slot_len {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "the decode worker made {}x{} pictures, the program wants {width}x{height}",
                    hello.width, hello.height
                ),
            ));
        }
        if hello.slots == 0 || hello.slots > 64 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("the decode worker announced {} slots", hello.slots),
            ));
        }
        let file = File::open(format!("/proc/{pid}/fd/{}", hello.fd))?;
        let len = slot_len * hello.slots as usize;
        if (file.metadata()?.len() as usize) < len {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "the decode worker's memory file is smaller than its slots",
            ));
        }
        let base = map_read_only(&file, len)?;
        Ok(SharedFrames {
            base,
            len,
            slot_len,
            slots: hello.slots,
        })
    }

    pub fn slots(&self) -> u32 {
        self.slots
    }

    fn slot(&self, slot: u32) -> &[u8] {
        debug_assert!(slot < self.slots);
        let at = slot as usize * self.slot_len;
        // SAFETY: at + slot_len <= len, inside the mapping, which lives as long as &self.
        #[allow(unsafe_code)]
        unsafe {
            std::slice::from_raw_parts(self.base.as_ptr().add(at), self.slot_len)
        }
    }
}

#[allow(unsafe_code)]
fn map_read_only(file: &File, len: usize) -> io::Result<NonNull<u8>> {
    // SAFETY: a new shared read-only mapping of `len` bytes of the file, which is at least
    // that long (checked by the caller); nothing aliases it mutably in this process.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ,
            libc::MAP_SHARED,
            file.as_raw_fd(),
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    NonNull::new(p as *mut u8).ok_or_else(|| io::Error::other("mmap returned null"))
}

impl Drop for SharedFrames {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly this mapping; no slice of it outlives self (SlotFrame holds
        // an Arc of it).
        #[allow(unsafe_code)]
        unsafe {
            libc::munmap(self.base.as_ptr() as *mut libc::c_void, self.len);
        }
    }
}

/// One slot as a `Bytes` owner: gives the slot back when dropped.
struct SlotFrame {
    frames: Arc<SharedFrames>,
    slot: u32,
    returns: mpsc::UnboundedSender<u32>,
}

impl AsRef<[u8]> for SlotFrame {
    fn as_ref(&self) -> &[u8] {
        self.frames.slot(self.slot)
    }
}

impl Drop for SlotFrame {
    fn drop(&mut self) {
        let _ = self.returns.send(self.slot);
    }
}

/// The pictures of one worker run: records from its stdout, slots back on its fd 4.
pub struct SharedReader {
    stdout: BoxRead,
    frames: Arc<SharedFrames>,
    returns: mpsc::UnboundedSender<u32>,
}

impl SharedReader {
    /// Reads the hello and maps the memory file; slots given back are written to `back` (the
    /// worker's fd 4) by a task of their own, which ends when the worker's end closes.
    pub async fn start(
        mut stdout: BoxRead,
        mut back: BoxWrite,
        pid: u32,
        width: u32,
        height: u32,
    ) -> io::Result<SharedReader> {
        let mut hello = [0u8; HELLO_LEN];
        stdout.read_exact(&mut hello).await?;
        let hello = Hello::parse(&hello)?;
        let frames = Arc::new(SharedFrames::open(pid, &hello, width, height)?);
        let (returns, mut rx) = mpsc::unbounded_channel::<u32>();
        tokio::spawn(async move {
            while let Some(slot) = rx.recv().await {
                if back.write_all(&slot.to_le_bytes()).await.is_err() {
                    break;
                }
            }
        });
        Ok(SharedReader {
            stdout,
            frames,
            returns,
        })
    }

    /// The next picture; `None` at the end of the run. Not cancel-safe (a record read halfway
    /// is lost): keep one future across select! rounds.
    pub async fn next(&mut self) -> io::Result<Option<Bytes>> {
        let mut rec = [0u8; 16];
        match self.stdout.read_exact(&mut rec).await {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(e) => return Err(e),
        }
        let slot = u32::from_le_bytes(rec[..4].try_into().expect("4 bytes"));
        if slot >= self.frames.slots() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "the decode worker sent slot {slot} of {}",
                    self.frames.slots()
                ),
            ));
        }
        Ok(Some(Bytes::from_owner(SlotFrame {
            frames: self.frames.clone(),
            slot,
            returns: self.returns.clone(),
        })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hello_is_read_and_checked() {
        let mut b = [0u8; HELLO_LEN];
        b[..8].copy_from_slice(MAGIC);
        b[8..12].copy_from_slice(&5u32.to_le_bytes());
        b[12..16].copy_from_slice(&8u32.to_le_bytes());
        b[16..24].copy_from_slice(&(320u64 * 180 * 3 / 2).to_le_bytes());
        b[24..28].copy_from_slice(&320u32.to_le_bytes());
        b[28..32].copy_from_slice(&180u32.to_le_bytes());
        let h = Hello::parse(&b).unwrap();
        assert_eq!(
            h,
            Hello {
                fd: 5,
                slots: 8,
                slot_len: 86_400,
                width: 320,
                height: 180
            }
        );
        b[7] = b'2';
        assert!(Hello::parse(&b).is_err());
    }
}
