//! Owns [`RevokedSet`]: the revoked task ids, kept like Celery's `LimitedSet` (at most
//! `REVOKES_MAX` = 50000 ids, each for `REVOKE_EXPIRES` = 10800 s), so that a task revoked
//! before it arrives is not run. Times are Unix seconds passed in by the caller.

use std::collections::{HashMap, VecDeque};

/// Celery's `REVOKES_MAX`.
pub(crate) const REVOKES_MAX: usize = 50_000;
/// Celery's `REVOKE_EXPIRES`, in seconds.
pub(crate) const REVOKE_EXPIRES_SECS: f64 = 10_800.0;

/// Revoked ids with the time they were revoked; bounded in count and age.
#[derive(Debug)]
pub(crate) struct RevokedSet {
    max: usize,
    expires: f64,
    /// id → when it was (last) revoked.
    at: HashMap<String, f64>,
    /// Insertions, oldest first; an entry whose time differs from `at` is stale.
    order: VecDeque<(String, f64)>,
}

impl Default for RevokedSet {
    fn default() -> Self {
        Self::new(REVOKES_MAX, REVOKE_EXPIRES_SECS)
    }
}

impl RevokedSet {
    pub(crate) fn new(max: usize, expires: f64) -> Self {
        Self {
            max,
            expires,
            at: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    /// Adds (or refreshes) `id`, revoked at `now`.
    pub(crate) fn insert(&mut self, id: &str, now: f64) {
        self.purge(now);
        self.at.insert(id.to_owned(), now);
        self.order.push_back((id.to_owned(), now));
        while self.order.len() > self.max {
            self.pop_oldest();
        }
    }

    /// Whether `id` is revoked and not yet expired at `now`.
    pub(crate) fn contains(&self, id: &str, now: f64) -> bool {
        self.at.get(id).is_some_and(|&t| now < t + self.expires)
    }

    /// The live ids with their revoke times (what `hello` hands to a new worker).
    pub(crate) fn entries(&mut self, now: f64) -> Vec<(String, f64)> {
        self.purge(now);
        let mut out: Vec<(String, f64)> = self.at.iter().map(|(k, &v)| (k.clone(), v)).collect();
        out.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
        out
    }

    /// Drops what expired by `now`.
    fn purge(&mut self, now: f64) {
        while let Some((_, t)) = self.order.front() {
            if now < t + self.expires {
                break;
            }
            self.pop_oldest();
        }
    }

    fn pop_oldest(&mut self) {
        if let Some((id, t)) = self.order.pop_front()
            && self.at.get(&id) == Some(&t)
        {
            self.at.remove(&id);
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.at.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_in_count_and_age() {
        let mut s = RevokedSet::new(2, 10.0);
        s.insert("a", 0.0);
        assert!(s.contains("a", 9.9));
        assert!(!s.contains("a", 10.0), "expired");
        s.insert("b", 1.0);
        s.insert("c", 2.0);
        assert!(!s.contains("a", 2.0), "oldest evicted beyond max");
        assert!(s.contains("b", 2.0) && s.contains("c", 2.0));
        // refreshing keeps the id past its first expiry
        s.insert("b", 8.0);
        assert!(s.contains("b", 15.0));
        assert!(!s.contains("c", 15.0));
        let ids: Vec<String> = s.entries(15.0).into_iter().map(|(id, _)| id).collect();
        assert_eq!(ids, ["b"]);
        assert!(s.entries(30.0).is_empty() && s.is_empty());
    }
}
