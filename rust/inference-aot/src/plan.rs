//! The arena plan, made once at build time: TFLM's greedy idea (largest tensor
//! first, each at the lowest offset where it overlaps no tensor alive at the same
//! time).

use std::collections::BTreeMap;

/// A tensor to place: its bytes, and the first and last step it is alive in.
pub struct Need {
    pub tensor: usize,
    pub bytes: usize,
    pub first: usize,
    pub last: usize,
}

pub struct Plan {
    /// Each tensor's offset.
    pub offsets: BTreeMap<usize, usize>,
    /// The arena's size.
    pub bytes: usize,
}

pub fn greedy(needs: impl IntoIterator<Item = Need>) -> Plan {
    let mut needs: Vec<Need> = needs.into_iter().collect();
    // Largest first; ties in tensor order, so that the plan is deterministic.
    needs.sort_by(|a, b| b.bytes.cmp(&a.bytes).then(a.tensor.cmp(&b.tensor)));
    let mut placed: Vec<(&Need, usize)> = Vec::new();
    let mut bytes = 0;
    for need in &needs {
        // Offsets of the tensors alive at the same time, lowest first.
        let mut taken: Vec<(usize, usize)> = placed
            .iter()
            .filter(|(p, _)| p.first <= need.last && need.first <= p.last)
            .map(|&(p, at)| (at, at + p.bytes))
            .collect();
        taken.sort_unstable();
        let mut at = 0;
        for (start, end) in taken {
            if at + need.bytes <= start {
                break;
            }
            at = at.max(end);
        }
        bytes = bytes.max(at + need.bytes);
        placed.push((need, at));
    }
    Plan { offsets: placed.iter().map(|(n, at)| (n.tensor, *at)).collect(), bytes }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn need(tensor: usize, bytes: usize, first: usize, last: usize) -> Need {
        Need { tensor, bytes, first, last }
    }

    #[test]
    fn tensors_alive_together_never_overlap_and_the_others_share() {
        // A chain a -> b -> c -> d: a and c may share, b and d may share.
        let plan = greedy([need(1, 16, 0, 1), need(2, 8, 1, 2), need(3, 16, 2, 3), need(4, 4, 3, 4)]);
        assert_eq!(plan.bytes, 24);
        assert_eq!(plan.offsets[&1], 0);
        assert_eq!(plan.offsets[&3], 0);
        assert_eq!(plan.offsets[&2], 16);
        assert_eq!(plan.offsets[&4], 16);
        // A tensor alive throughout goes beside all of them.
        let plan = greedy([need(1, 16, 0, 1), need(2, 16, 1, 2), need(9, 32, 0, 2)]);
        assert_eq!((plan.offsets[&9], plan.offsets[&1], plan.offsets[&2]), (0, 32, 48));
        assert_eq!(plan.bytes, 64);
    }

    #[test]
    fn a_gap_below_a_live_tensor_is_used() {
        // 1 at [0, 16) dies after step 1; 2 lives in steps 1-2 at [16, 32); 3 (step 2)
        // fits below 2, where 1 was.
        let plan = greedy([need(1, 16, 0, 1), need(2, 16, 1, 2), need(3, 8, 2, 2)]);
        assert_eq!((plan.offsets[&1], plan.offsets[&2], plan.offsets[&3]), (0, 16, 0));
        assert_eq!(plan.bytes, 32);
        // 3 larger than 1 and 2: placed first, at 0; 1 shares with it, 2 goes above.
        let plan = greedy([need(1, 16, 0, 1), need(2, 16, 1, 2), need(3, 17, 2, 2)]);
        assert_eq!((plan.offsets[&3], plan.offsets[&1], plan.offsets[&2]), (0, 0, 17));
        assert_eq!(plan.bytes, 33);
    }
}
