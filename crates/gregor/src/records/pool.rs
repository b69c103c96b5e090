//! [`BufferPool`]: decompression buffers reused from one batch to the next.

use std::collections::VecDeque;

use bytes::Bytes;

/// Decompressed batches are handed out as [`Bytes`] views (records' keys and values point into
/// them), so a batch's buffer cannot simply be overwritten by the next batch: the application
/// may still hold records of it. The pool keeps the buffers of the last few finished batches
/// and reuses one as soon as nothing refers to it any more ([`Bytes::try_into_mut`]), which
/// for an application that drops its records before polling again is nearly every batch.
/// A reused buffer is written over without being zeroed or faulted in again.
///
/// The pool holds at most [`BufferPool::MAX_BUFFERS`] buffers, none larger than its size limit;
/// [`BufferPool::bytes`] is what it holds (a consumer counts that against its prefetch budget).
#[derive(Debug)]
pub struct BufferPool {
    retired: VecDeque<Bytes>,
    max_buffer: usize,
    reused: u64,
    allocated: u64,
}

impl Default for BufferPool {
    fn default() -> Self {
        BufferPool::new(Self::DEFAULT_MAX_BUFFER)
    }
}

impl BufferPool {
    /// Finished buffers kept for reuse. Two cover the common case: the batch whose records the
    /// application is still reading, and the one before it, free again by the next batch.
    pub const MAX_BUFFERS: usize = 2;
    /// Buffers larger than this are not kept: 8 MiB.
    pub const DEFAULT_MAX_BUFFER: usize = 8 << 20;

    /// A pool that keeps buffers of up to `max_buffer` bytes (0: a pool that keeps nothing).
    pub fn new(max_buffer: usize) -> BufferPool {
        BufferPool { retired: VecDeque::new(), max_buffer, reused: 0, allocated: 0 }
    }

    /// A buffer to decompress into: a free one from the pool, or a new (empty) one.
    pub(super) fn take(&mut self) -> Vec<u8> {
        for _ in 0..self.retired.len() {
            let Some(b) = self.retired.pop_front() else { break };
            match b.try_into_mut() {
                Ok(m) => {
                    self.reused += 1;
                    return Vec::from(m);
                }
                Err(b) => self.retired.push_back(b),
            }
        }
        self.allocated += 1;
        Vec::new()
    }

    /// Returns a finished batch's whole buffer (not a slice of it) to the pool.
    pub(super) fn give(&mut self, buffer: Bytes) {
        if buffer.len() > self.max_buffer || self.max_buffer == 0 {
            return;
        }
        if self.retired.len() == Self::MAX_BUFFERS {
            self.retired.pop_front();
        }
        self.retired.push_back(buffer);
    }

    /// Bytes held by the pool (free or still referenced by records handed out).
    pub fn bytes(&self) -> usize {
        self.retired.iter().map(Bytes::len).sum()
    }

    /// How many buffers were reused and how many had to be allocated.
    pub fn stats(&self) -> (u64, u64) {
        (self.reused, self.allocated)
    }
}
