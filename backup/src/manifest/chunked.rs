//! Append-only storage in fixed-size chunks for the [`super::ManifestIndex`]: growing never
//! copies what is stored and never leaves more than one chunk of spare capacity (a doubling
//! `Vec` holds up to twice its length, and three times while it reallocates).

/// Elements per chunk of a [`ChunkedVec`].
const CHUNK_LEN: usize = 1024;

/// Bytes per chunk of a [`NameArena`]; more than the longest set of names of one entry.
pub(super) const CHUNK_BYTES: usize = 64 * 1024;

/// A vector stored as chunks of [`CHUNK_LEN`] elements.
#[derive(Clone, PartialEq, Eq)]
pub(super) struct ChunkedVec<T> {
    chunks: Vec<Vec<T>>,
    len: usize,
}

impl<T> Default for ChunkedVec<T> {
    fn default() -> Self {
        Self {
            chunks: Vec::new(),
            len: 0,
        }
    }
}

impl<T> ChunkedVec<T> {
    pub(super) fn push(&mut self, value: T) {
        match self.chunks.last_mut() {
            Some(chunk) if chunk.len() < CHUNK_LEN => chunk.push(value),
            _ => {
                let mut chunk = Vec::with_capacity(CHUNK_LEN);
                chunk.push(value);
                self.chunks.push(chunk);
            }
        }
        self.len += 1;
    }

    pub(super) fn len(&self) -> usize {
        self.len
    }

    pub(super) fn get(&self, index: usize) -> Option<&T> {
        self.chunks.get(index / CHUNK_LEN)?.get(index % CHUNK_LEN)
    }

    /// Drops the spare capacity of the last chunk.
    pub(super) fn shrink_to_fit(&mut self) {
        if let Some(last) = self.chunks.last_mut() {
            last.shrink_to_fit();
        }
        self.chunks.shrink_to_fit();
    }
}

/// Strings stored back to back in chunks of [`CHUNK_BYTES`]; each [`NameArena::push`] keeps its
/// parts in one chunk, so they read back as one `&str` from a global offset.
#[derive(Clone, Default, PartialEq, Eq)]
pub(super) struct NameArena {
    chunks: Vec<String>,
}

/// The arena would pass 4 GiB of offsets, or one entry's names exceed a chunk.
#[derive(Debug)]
pub(super) struct ArenaFull;

impl NameArena {
    /// Appends `parts` contiguously; returns the offset of the first.
    pub(super) fn push(&mut self, parts: &[&str]) -> Result<u32, ArenaFull> {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        if len > CHUNK_BYTES {
            return Err(ArenaFull);
        }
        if self
            .chunks
            .last()
            .is_none_or(|chunk| chunk.len() + len > CHUNK_BYTES)
        {
            self.chunks.push(String::with_capacity(CHUNK_BYTES));
        }
        let index = self.chunks.len() - 1;
        let chunk = &mut self.chunks[index];
        let start = index
            .checked_mul(CHUNK_BYTES)
            .and_then(|base| base.checked_add(chunk.len()))
            .and_then(|at| u32::try_from(at).ok())
            .ok_or(ArenaFull)?;
        for part in parts {
            chunk.push_str(part);
        }
        Ok(start)
    }

    /// The `len` bytes at `start`, as pushed.
    ///
    /// # Panics
    /// When `start..start + len` was not handed out by [`NameArena::push`] (an invariant).
    pub(super) fn get(&self, start: u32, len: usize) -> &str {
        let start = start as usize;
        let at = start % CHUNK_BYTES;
        &self.chunks[start / CHUNK_BYTES][at..at + len]
    }

    /// Drops the spare capacity of the last chunk.
    pub(super) fn shrink_to_fit(&mut self) {
        if let Some(last) = self.chunks.last_mut() {
            last.shrink_to_fit();
        }
        self.chunks.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_vec_indexes_across_chunks() {
        let mut v = ChunkedVec::default();
        for i in 0..(3 * CHUNK_LEN + 5) {
            v.push(i);
        }
        v.shrink_to_fit();
        assert_eq!(v.len(), 3 * CHUNK_LEN + 5);
        assert_eq!(v.get(CHUNK_LEN), Some(&CHUNK_LEN));
        assert_eq!(v.get(3 * CHUNK_LEN + 4), Some(&(3 * CHUNK_LEN + 4)));
        assert_eq!(v.get(3 * CHUNK_LEN + 5), None);
        assert!((0..v.len()).all(|i| v.get(i) == Some(&i)));
    }

    #[test]
    fn names_never_straddle_chunks() {
        let mut arena = NameArena::default();
        let long = "x".repeat(CHUNK_BYTES - 10);
        let a = arena.push(&["ab", "cd"]).unwrap_or(u32::MAX);
        let b = arena.push(&[&long]).unwrap_or(u32::MAX);
        let c = arena.push(&["0123456789", "z"]).unwrap_or(u32::MAX);
        assert_eq!(arena.get(a, 4), "abcd");
        assert_eq!(arena.get(b, long.len()), long);
        assert_eq!(c as usize, CHUNK_BYTES);
        assert_eq!(arena.get(c, 11), "0123456789z");
        assert!(arena.push(&[&"y".repeat(CHUNK_BYTES + 1)]).is_err());
    }
}
