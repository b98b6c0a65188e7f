//! `div_round_half_even`, the platform's one rounding function.

use std::cmp::Ordering;

use aex_types::div_round_half_even;
use proptest::prelude::*;

/// A slow, obviously correct reference: floor division, then compare twice the remainder with
/// the denominator. Only for inputs where `2 * |denominator|` and `-numerator` fit in i128.
pub fn reference_div_round_half_even(numerator: i128, denominator: i128) -> i128 {
    let (n, d) = if denominator < 0 { (-numerator, -denominator) } else { (numerator, denominator) };
    let floor = n.div_euclid(d);
    let remainder = n.rem_euclid(d);
    match (2 * remainder).cmp(&d) {
        Ordering::Less => floor,
        Ordering::Greater => floor + 1,
        Ordering::Equal if floor % 2 == 0 => floor,
        Ordering::Equal => floor + 1,
    }
}

#[test]
fn ties_go_to_the_even_neighbour() {
    let table = [
        (15, 10, 2),
        (25, 10, 2),
        (35, 10, 4),
        (45, 10, 4),
        (5, 10, 0),
        (-5, 10, 0),
        (-15, 10, -2),
        (-25, 10, -2),
        (-35, 10, -4),
        (15, -10, -2),
        (25, -10, -2),
        (-15, -10, 2),
        (-25, -10, 2),
        (1, 2, 0),
        (3, 2, 2),
        (-3, 2, -2),
    ];
    for (n, d, expected) in table {
        assert_eq!(div_round_half_even(n, d), Some(expected), "{n}/{d}");
    }
}

#[test]
fn non_ties_go_to_the_nearest() {
    let table = [
        (14, 10, 1),
        (16, 10, 2),
        (-14, 10, -1),
        (-16, 10, -2),
        (14, -10, -1),
        (-16, -10, 2),
        (0, 7, 0),
        (7, 7, 1),
        (-7, 7, -1),
        (10, 3, 3),
        (11, 3, 4),
        (-11, 3, -4),
        (123, 1, 123),
        (123, -1, -123),
    ];
    for (n, d, expected) in table {
        assert_eq!(div_round_half_even(n, d), Some(expected), "{n}/{d}");
    }
}

#[test]
fn zero_denominator_and_overflow_are_none() {
    assert_eq!(div_round_half_even(1, 0), None);
    assert_eq!(div_round_half_even(0, 0), None);
    assert_eq!(div_round_half_even(i128::MIN, 0), None);
    assert_eq!(div_round_half_even(i128::MIN, -1), None);
    assert_eq!(div_round_half_even(i128::MAX, -1), Some(-i128::MAX));
}

fn denominator() -> impl Strategy<Value = i128> {
    prop_oneof![1_i128..=20, -20_i128..=-1, 1_i128..(1 << 60), -(1_i128 << 60)..0,]
}

proptest! {
    #[test]
    fn agrees_with_the_reference(
        numerator in prop_oneof![-(1_i128 << 100)..(1_i128 << 100), -1000_i128..1000],
        denominator in denominator(),
    ) {
        prop_assert_eq!(
            div_round_half_even(numerator, denominator),
            Some(reference_div_round_half_even(numerator, denominator))
        );
    }

    #[test]
    fn exact_ties_land_on_an_even_neighbour(
        k in -(1_i128 << 80)..(1_i128 << 80),
        half in 1_i128..(1 << 40),
        flip in any::<bool>(),
    ) {
        // numerator / denominator = k + 1/2 exactly.
        let denominator = 2 * half;
        let numerator = k * denominator + half;
        let (n, d) = if flip { (-numerator, -denominator) } else { (numerator, denominator) };
        let rounded = div_round_half_even(n, d).unwrap();
        prop_assert_eq!(rounded % 2, 0);
        prop_assert!(rounded == k || rounded == k + 1);
    }

    #[test]
    fn is_odd_symmetric(numerator in -(1_i128 << 100)..(1_i128 << 100), denominator in denominator()) {
        prop_assert_eq!(
            div_round_half_even(-numerator, denominator),
            div_round_half_even(numerator, denominator).map(|q| -q)
        );
    }
}
