//! The slot lottery: VRF transcript, primary threshold and secondary slot author.

use parity_scale_codec::Encode;
use weft_block::babe::{BabeAuthority, Randomness, Slot};
use weft_crypto::merlin::Transcript;
use weft_crypto::schnorrkel::vrf::VRFInOut;

/// Label of the BABE VRF transcript (also the BABE engine id).
pub const VRF_TRANSCRIPT_LABEL: &[u8] = b"BABE";

/// Context from which the 16-byte primary lottery score is derived from the VRF
/// input/output pair (`AUTHORING_SCORE_VRF_CONTEXT` in Substrate).
pub const VRF_SCORE_CONTEXT: &[u8] = b"substrate-babe-vrf";

/// The VRF input of a slot claim: a merlin transcript labelled `"BABE"` holding the
/// slot (`"slot number"`, u64 LE), the epoch index (`"current epoch"`, u64 LE) and the
/// epoch randomness (`"chain randomness"`, 32 bytes), in that order.
pub fn vrf_transcript(randomness: &Randomness, slot: Slot, epoch_index: u64) -> Transcript {
    let mut transcript = Transcript::new(VRF_TRANSCRIPT_LABEL);
    transcript.append_u64(b"slot number", slot);
    transcript.append_u64(b"current epoch", epoch_index);
    transcript.append_message(b"chain randomness", randomness);
    transcript
}

/// The primary lottery score of a verified VRF: the 16 bytes
/// `make_bytes(b"substrate-babe-vrf")` read as a little-endian `u128`. A primary
/// claim is valid when the score is strictly below the author's threshold.
pub fn primary_score(inout: &VRFInOut) -> u128 {
    u128::from_le_bytes(inout.make_bytes::<[u8; 16]>(VRF_SCORE_CONTEXT))
}

/// The primary-slot threshold of the authority at `authority_index`, computed
/// exactly like Substrate's `calculate_primary_threshold`:
///
/// ```text
/// c     = c.0 as f64 / c.1 as f64
/// theta = weight_i as f64 / (sum of weights) as f64
/// p     = 1 - (1 - c).powf(theta)              (an f64)
/// threshold = floor(2^128 * p)                 (p taken as the exact rational value of the f64)
/// ```
///
/// Substrate turns the f64 `p` into an exact `BigRational` and multiplies by `2^128`
/// with big integers. An f64 is exactly `m * 2^e` with an integer mantissa
/// `m < 2^53`, so the same value is `floor(m * 2^(128 + e))`, which this function
/// computes with a shift of a `u128` ([`floor_times_2_pow_128`]); no big-integer
/// crate is needed and the result is bit-identical. `powf` is the platform `pow`
/// (glibc's on Linux), as in Substrate.
///
/// Returns `Some(0)` where Substrate returns 0 (`c.1 == 0`, or an index out of
/// range) and `None` where Substrate panics: an authority of weight 0, `c >= 1`
/// (`p` would be 1 or more, or NaN), or a non-finite `p`. A `None` threshold means
/// no primary claim of that authority can be valid. The weights are summed in
/// `u128` (Substrate sums in `u64`; the two differ only for sums above `u64::MAX`).
pub fn calculate_primary_threshold(
    c: (u64, u64),
    authorities: &[BabeAuthority],
    authority_index: usize,
) -> Option<u128> {
    if c.1 == 0 {
        return Some(0);
    }
    let Some(authority) = authorities.get(authority_index) else {
        return Some(0);
    };
    let c = c.0 as f64 / c.1 as f64;
    let total: u128 = authorities.iter().map(|a| u128::from(a.weight)).sum();
    let theta = authority.weight as f64 / total as f64;
    // Substrate: `assert!(theta > 0.0, "authority with weight 0.")` (NaN fails it too).
    if theta.partial_cmp(&0.0) != Some(core::cmp::Ordering::Greater) {
        return None;
    }
    let p = 1f64 - (1f64 - c).powf(theta);
    floor_times_2_pow_128(p)
}

/// `floor(p * 2^128)` for a finite, non-negative f64 `p < 1`, computed exactly from
/// `p`'s binary representation. `None` if `p` is NaN, infinite, negative or `>= 1`
/// (where the product does not fit in a `u128`).
pub fn floor_times_2_pow_128(p: f64) -> Option<u128> {
    if !p.is_finite() {
        return None;
    }
    let bits = p.to_bits();
    let negative = bits >> 63 == 1;
    let exponent_bits = ((bits >> 52) & 0x7ff) as i32;
    let fraction = bits & ((1u64 << 52) - 1);
    // p = mantissa * 2^exponent exactly.
    let (mantissa, exponent) =
        if exponent_bits == 0 { (fraction, -1074) } else { (fraction | (1u64 << 52), exponent_bits - 1075) };
    if mantissa == 0 {
        return Some(0);
    }
    if negative {
        return None;
    }
    let shift = 128 + exponent;
    if shift >= 0 {
        let significant_bits = 64 - mantissa.leading_zeros() as i32;
        if significant_bits + shift > 128 {
            return None;
        }
        Some(u128::from(mantissa) << shift)
    } else {
        Some(u128::from(mantissa).checked_shr(shift.unsigned_abs()).unwrap_or(0))
    }
}

/// The index of the authority entitled to the secondary claim of `slot`:
/// `blake2_256(SCALE(randomness, slot))`, read as a **big-endian** 256-bit integer,
/// modulo the number of authorities. `None` if there are no authorities.
///
/// This is Substrate's `secondary_slot_author` as Westend and Polkadot have run it
/// since genesis (`U256::from(<[u8; 32]>)`, a big-endian conversion). The real
/// Westend blocks confirm it: all 194 secondary claims of blocks #1-#256 match the
/// big-endian reading, while a little-endian reading assigns most of them to
/// another authority.
///
/// Substrate compares the claimed author's *key* with the key at this index, so
/// with duplicated keys another index holding the same key is accepted too;
/// [`verify_header`](super::verify_header) does the same.
pub fn secondary_slot_author(slot: Slot, authorities: &[BabeAuthority], randomness: &Randomness) -> Option<usize> {
    let len = u64::try_from(authorities.len()).ok().filter(|len| *len > 0)?;
    let hash = weft_crypto::hashing::blake2_256(&(randomness, slot).encode());
    // Horner's rule from the most significant byte (the first one, big-endian).
    let remainder = hash.iter().fold(0u128, |acc, byte| ((acc << 8) | u128::from(*byte)) % u128::from(len));
    usize::try_from(remainder).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn authorities(weights: &[u64]) -> Vec<BabeAuthority> {
        weights.iter().map(|w| BabeAuthority { public_key: [0; 32], weight: *w }).collect()
    }

    /// Expected values computed independently: Python's `1.0 - (1.0 - c) ** theta`
    /// (C `pow`), converted with `fractions.Fraction(p)` and `floor(2**128 * p)`.
    #[test]
    fn threshold_matches_exact_rational_computation() {
        type Case = ((u64, u64), &'static [u64], usize, u128);
        let cases: &[Case] = &[
            ((1, 4), &[1, 1, 1, 1], 0, 23613942797549581433038601094032261120),
            ((1, 4), &[1], 0, 85070591730234615865843651857942052864),
            ((1, 4), &[1, 2, 3, 4], 3, 36988275083061293370002912636087304192),
            ((1, 4), &[1, 2, 3, 4], 0, 9649843784307116749845098849372209152),
            ((3, 10), &[5, 7], 0, 46992565391910629761072103152947298304),
            ((3, 10), &[5, 7], 1, 63919322438810076924662014039312826368),
            ((1, 1_000_000), &[1, 1_000_000_000_000], 0, 0),
        ];
        for (c, weights, index, expected) in cases {
            assert_eq!(
                calculate_primary_threshold(*c, &authorities(weights), *index),
                Some(*expected),
                "{c:?} {weights:?}"
            );
        }
        let many = authorities(&[1; 1000]);
        assert_eq!(calculate_primary_threshold((1, 2), &many, 0), Some(235784037264930663171275844713709568));
        let polkadot_like = authorities(&[1; 297]);
        assert_eq!(calculate_primary_threshold((1, 4), &polkadot_like, 5), Some(329446939041455646821181862768017408));
        // A single authority with c = 1/4 wins exactly a quarter of the slots.
        assert_eq!(calculate_primary_threshold((1, 4), &authorities(&[7]), 0), Some(1u128 << 126));
    }

    #[test]
    fn threshold_edge_cases_follow_substrate() {
        let four = authorities(&[1, 1, 1, 1]);
        // Substrate returns 0 for these.
        assert_eq!(calculate_primary_threshold((1, 0), &four, 0), Some(0));
        assert_eq!(calculate_primary_threshold((1, 4), &four, 4), Some(0));
        assert_eq!(calculate_primary_threshold((0, 4), &four, 0), Some(0));
        // Substrate panics for these.
        assert_eq!(calculate_primary_threshold((1, 4), &authorities(&[1, 0]), 1), None);
        assert_eq!(calculate_primary_threshold((1, 4), &authorities(&[0, 0]), 0), None);
        assert_eq!(calculate_primary_threshold((4, 4), &four, 0), None);
        assert_eq!(calculate_primary_threshold((5, 4), &four, 0), None);
        assert_eq!(calculate_primary_threshold((5, 4), &authorities(&[1]), 0), None);
        // Huge weights do not overflow.
        assert!(calculate_primary_threshold((1, 4), &authorities(&[u64::MAX, u64::MAX]), 0).is_some());
    }

    #[test]
    fn floor_times_2_pow_128_is_exact() {
        assert_eq!(floor_times_2_pow_128(0.0), Some(0));
        assert_eq!(floor_times_2_pow_128(-0.0), Some(0));
        assert_eq!(floor_times_2_pow_128(0.5), Some(1 << 127));
        assert_eq!(floor_times_2_pow_128(0.75), Some(3 << 126));
        assert_eq!(floor_times_2_pow_128(2f64.powi(-128)), Some(1));
        assert_eq!(floor_times_2_pow_128(2f64.powi(-129)), Some(0));
        assert_eq!(floor_times_2_pow_128(3.0 * 2f64.powi(-130)), Some(0));
        assert_eq!(floor_times_2_pow_128(f64::from_bits(1)), Some(0)); // smallest subnormal
        let below_one = f64::from_bits(1.0f64.to_bits() - 1);
        assert_eq!(floor_times_2_pow_128(below_one), Some(u128::MAX - ((1u128 << 75) - 1)));
        assert_eq!(floor_times_2_pow_128(1.0), None);
        assert_eq!(floor_times_2_pow_128(-0.25), None);
        assert_eq!(floor_times_2_pow_128(f64::NAN), None);
        assert_eq!(floor_times_2_pow_128(f64::INFINITY), None);
    }

    #[test]
    fn secondary_author_is_big_endian_hash_modulo_len() {
        assert_eq!(secondary_slot_author(5, &[], &[0; 32]), None);
        let four = authorities(&[1, 1, 1, 1]);
        for slot in [0u64, 1, 264_379_767, u64::MAX] {
            let randomness = [slot as u8; 32];
            let hash = weft_crypto::hashing::blake2_256(&[&randomness[..], &slot.to_le_bytes()].concat());
            // Modulo 4 only depends on the lowest byte of the big-endian number.
            assert_eq!(secondary_slot_author(slot, &four, &randomness), Some(usize::from(hash[31] % 4)));
            // Modulo 1 is always 0.
            assert_eq!(secondary_slot_author(slot, &four[..1], &randomness), Some(0));
        }
        // Modulo 3 depends on every byte: compare with a straightforward digit sum
        // (256 ≡ 1 mod 3, so the number is congruent to the sum of its bytes).
        let randomness = [7u8; 32];
        let hash = weft_crypto::hashing::blake2_256(&[&randomness[..], &9u64.to_le_bytes()].concat());
        let digit_sum: u64 = hash.iter().map(|b| u64::from(*b)).sum();
        assert_eq!(secondary_slot_author(9, &four[..3], &randomness), Some((digit_sum % 3) as usize));
        // Modulo 7 depends on the byte order (256 ≡ 4 mod 7).
        let seven = authorities(&[1; 7]);
        let big_endian = hash.iter().fold(0u64, |acc, b| (acc * 256 + u64::from(*b)) % 7);
        assert_eq!(secondary_slot_author(9, &seven, &randomness), Some(big_endian as usize));
    }
}
