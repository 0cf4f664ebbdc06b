//! An order-statistics set over small integers (a Fenwick tree of 0/1): "the k-th member in
//! join order" in O(log n), so paging a 10,000-person list does not walk it from the start.

/// A set of `u32` keys below its capacity, which grows as keys are added.
#[derive(Debug, Default, Clone)]
pub(crate) struct OrderSet {
    /// Fenwick tree, 1-based: `tree[i]` sums `bits[i - lowbit(i) .. i]`.
    tree: Vec<u32>,
    bits: Vec<bool>,
    len: u32,
}

impl OrderSet {
    /// Members in the set.
    pub(crate) fn len(&self) -> u32 {
        self.len
    }

    fn grow_to(&mut self, key: u32) {
        // Appending one position at a time keeps the tree valid without a rebuild: the new
        // node's sum is the prefix up to it minus the prefix before its range.
        while self.bits.len() <= key as usize {
            let i = self.bits.len() + 1;
            let low = i & i.wrapping_neg();
            let node = self.prefix(i - 1) - self.prefix(i - low);
            self.tree.push(node);
            self.bits.push(false);
        }
    }

    /// Sum of the first `n` positions.
    fn prefix(&self, mut n: usize) -> u32 {
        let mut sum = 0;
        while n > 0 {
            sum += self.tree[n - 1];
            n &= n - 1;
        }
        sum
    }

    fn add(&mut self, key: u32, delta: i64) {
        let mut i = key as usize + 1;
        while i <= self.tree.len() {
            self.tree[i - 1] = (i64::from(self.tree[i - 1]) + delta) as u32;
            i += i & i.wrapping_neg();
        }
    }

    /// Adds `key`; false if it was there.
    pub(crate) fn insert(&mut self, key: u32) -> bool {
        self.grow_to(key);
        if self.bits[key as usize] {
            return false;
        }
        self.bits[key as usize] = true;
        self.add(key, 1);
        self.len += 1;
        true
    }

    /// Removes `key`; false if it was not there.
    pub(crate) fn remove(&mut self, key: u32) -> bool {
        if !self.bits.get(key as usize).copied().unwrap_or(false) {
            return false;
        }
        self.bits[key as usize] = false;
        self.add(key, -1);
        self.len -= 1;
        true
    }

    /// The `k`-th smallest key (0-based).
    pub(crate) fn select(&self, k: u32) -> Option<u32> {
        if k >= self.len {
            return None;
        }
        // Binary lifting down the tree: find the largest position whose prefix is <= k.
        let n = self.tree.len();
        let mut pos = 0usize;
        let mut rest = k;
        let mut step = n.next_power_of_two();
        while step > 0 {
            let next = pos + step;
            if next <= n && self.tree[next - 1] <= rest {
                pos = next;
                rest -= self.tree[next - 1];
            }
            step >>= 1;
        }
        Some(pos as u32)
    }

    /// Whether `key` is in the set.
    #[cfg(test)]
    pub(crate) fn contains(&self, key: u32) -> bool {
        self.bits.get(key as usize).copied().unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn selects_like_a_sorted_set() {
        let mut set = OrderSet::default();
        let mut model = BTreeSet::new();
        let mut x: u64 = 12345;
        for _ in 0..5000 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let key = ((x >> 33) % 700) as u32;
            if (x >> 20) & 1 == 0 {
                assert_eq!(set.insert(key), model.insert(key));
            } else {
                assert_eq!(set.remove(key), model.remove(&key));
            }
            assert_eq!(set.len() as usize, model.len());
        }
        for (k, key) in model.iter().enumerate() {
            assert_eq!(set.select(k as u32), Some(*key));
            assert!(set.contains(*key));
        }
        assert_eq!(set.select(set.len()), None);
    }

    #[test]
    fn empty_set_selects_nothing() {
        let set = OrderSet::default();
        assert_eq!(set.select(0), None);
        let mut set = OrderSet::default();
        assert!(!set.remove(3));
        assert!(set.insert(0));
        assert_eq!(set.select(0), Some(0));
    }
}
